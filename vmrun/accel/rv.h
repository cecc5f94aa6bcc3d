/* SPDX-License-Identifier: MIT */
/*
 * rv.h - the RV32I / RV64I base integer instruction set, shared by the
 * accelerators: decoding an instruction word into a struct rv_op, and
 * executing one decoded instruction on a hart in machine mode.
 *
 * Built with XLEN defined as 32 or 64; everything here is static, so each
 * accelerator build holds one copy for its own target. The including file
 * may define RV_ON_STORE(cpu, off, len) to hear of every store to RAM (the
 * fast accelerator drops decoded code that a store changes).
 */
#ifndef VMRUN_RV_H
#define VMRUN_RV_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "machine.h"

#if XLEN == 32
typedef uint32_t ureg;
typedef int32_t sreg;
#define RV_TARGET "riscv32"
#elif XLEN == 64
typedef uint64_t ureg;
typedef int64_t sreg;
#define RV_TARGET "riscv64"
#else
#error "build with -DXLEN=32 or -DXLEN=64"
#endif

#ifndef RV_ON_STORE
#define RV_ON_STORE(cpu, off, len) ((void)0)
#endif

/* Operations, one per instruction (no "illegal": RV_BAD stands for it). */
enum rv_opc {
	RV_BAD, RV_LUI, RV_AUIPC, RV_JAL, RV_JALR,
	RV_BEQ, RV_BNE, RV_BLT, RV_BGE, RV_BLTU, RV_BGEU,
	RV_LB, RV_LH, RV_LW, RV_LD, RV_LBU, RV_LHU, RV_LWU,
	RV_SB, RV_SH, RV_SW, RV_SD,
	RV_ADDI, RV_SLTI, RV_SLTIU, RV_XORI, RV_ORI, RV_ANDI, RV_SLLI, RV_SRLI, RV_SRAI,
	RV_ADD, RV_SUB, RV_SLL, RV_SLT, RV_SLTU, RV_XOR, RV_SRL, RV_SRA, RV_OR, RV_AND,
	RV_ADDIW, RV_SLLIW, RV_SRLIW, RV_SRAIW, RV_ADDW, RV_SUBW, RV_SLLW, RV_SRLW, RV_SRAW,
	RV_FENCE, RV_ECALL, RV_EBREAK,
};

/* One decoded instruction: its operation, registers and immediate. */
struct rv_op {
	uint8_t opc, rd, rs1, rs2;
	int32_t imm;
	uint32_t insn; /* the word, for messages */
};

/* The low `bits` bits of v, sign-extended (no shift of a negative value). */
static inline int32_t rv_sext(uint32_t v, unsigned bits)
{
	uint32_t sign = 1u << (bits - 1);
	v &= (sign << 1) - 1;
	return (int32_t)((v ^ sign) - sign);
}

/* Decodes one instruction word; opc RV_BAD when this target has no such instruction. */
static inline struct rv_op rv_decode(uint32_t w)
{
	struct rv_op op = {RV_BAD, (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31, 0, w};
	unsigned f3 = (w >> 12) & 7, f7 = w >> 25;
	int32_t imm_i = rv_sext(w >> 20, 12);
	/* Shift amounts: 5 bits on RV32, 6 on RV64; the bits above select the shift. */
	unsigned shamt_hi = XLEN == 64 ? w >> 26 : w >> 25, sra_hi = XLEN == 64 ? 0x10 : 0x20;
	switch (w & 0x7f) {
	case 0x37:
		op.opc = RV_LUI;
		op.imm = (int32_t)(w & 0xfffff000u);
		break;
	case 0x17:
		op.opc = RV_AUIPC;
		op.imm = (int32_t)(w & 0xfffff000u);
		break;
	case 0x6f:
		op.opc = RV_JAL;
		op.imm = rv_sext(((w >> 31) << 20) | (w & 0xff000) | (((w >> 20) & 1) << 11) |
					 (((w >> 21) & 0x3ff) << 1),
				 21);
		break;
	case 0x67:
		op.opc = f3 == 0 ? RV_JALR : RV_BAD;
		op.imm = imm_i;
		break;
	case 0x63: {
		static const uint8_t br[8] = {RV_BEQ, RV_BNE, RV_BAD, RV_BAD,
					      RV_BLT, RV_BGE, RV_BLTU, RV_BGEU};
		op.opc = br[f3];
		op.imm = rv_sext(((w >> 31) << 12) | (((w >> 7) & 1) << 11) |
					 (((w >> 25) & 0x3f) << 5) | (((w >> 8) & 0xf) << 1),
				 13);
		break;
	}
	case 0x03: {
		static const uint8_t ld[8] = {RV_LB, RV_LH, RV_LW, XLEN == 64 ? RV_LD : RV_BAD,
					      RV_LBU, RV_LHU, XLEN == 64 ? RV_LWU : RV_BAD, RV_BAD};
		op.opc = ld[f3];
		op.imm = imm_i;
		break;
	}
	case 0x23: {
		static const uint8_t st[8] = {RV_SB, RV_SH, RV_SW, XLEN == 64 ? RV_SD : RV_BAD,
					      RV_BAD, RV_BAD, RV_BAD, RV_BAD};
		op.opc = st[f3];
		op.imm = rv_sext(((w >> 25) << 5) | ((w >> 7) & 31), 12);
		break;
	}
	case 0x13: {
		static const uint8_t alu[8] = {RV_ADDI, RV_SLLI, RV_SLTI, RV_SLTIU,
					       RV_XORI, RV_SRLI, RV_ORI, RV_ANDI};
		op.opc = alu[f3];
		op.imm = imm_i;
		if (f3 == 1 && shamt_hi != 0)
			op.opc = RV_BAD;
		if (f3 == 5)
			op.opc = shamt_hi == 0 ? RV_SRLI : shamt_hi == sra_hi ? RV_SRAI : RV_BAD;
		if (f3 == 1 || f3 == 5)
			op.imm = (int32_t)((w >> 20) & (XLEN - 1));
		break;
	}
	case 0x33: {
		static const uint8_t alu[8] = {RV_ADD, RV_SLL, RV_SLT, RV_SLTU,
					       RV_XOR, RV_SRL, RV_OR, RV_AND};
		if (f7 == 0)
			op.opc = alu[f3];
		else if (f7 == 0x20 && (f3 == 0 || f3 == 5))
			op.opc = f3 == 0 ? RV_SUB : RV_SRA;
		break;
	}
	case 0x1b:
		if (XLEN != 64)
			break;
		op.imm = f3 == 0 ? imm_i : (int32_t)((w >> 20) & 31);
		if (f3 == 0)
			op.opc = RV_ADDIW;
		else if (f3 == 1 && f7 == 0)
			op.opc = RV_SLLIW;
		else if (f3 == 5 && (f7 == 0 || f7 == 0x20))
			op.opc = f7 ? RV_SRAIW : RV_SRLIW;
		break;
	case 0x3b:
		if (XLEN != 64)
			break;
		if (f3 == 0 && (f7 == 0 || f7 == 0x20))
			op.opc = f7 ? RV_SUBW : RV_ADDW;
		else if (f3 == 1 && f7 == 0)
			op.opc = RV_SLLW;
		else if (f3 == 5 && (f7 == 0 || f7 == 0x20))
			op.opc = f7 ? RV_SRAW : RV_SRLW;
		break;
	case 0x0f:
		op.opc = f3 == 0 || f3 == 1 ? RV_FENCE : RV_BAD; /* one hart: fences are no-ops */
		break;
	case 0x73:
		/* No CSRs and no trap handling here: ecall and ebreak stop the run. */
		op.opc = w == 0x00000073 ? RV_ECALL : w == 0x00100073 ? RV_EBREAK : RV_BAD;
		break;
	}
	return op;
}

/* A hart and its view of the machine. */
struct rv_cpu {
	ureg x[32];
	ureg pc;
	uint64_t instructions;
	uint8_t *ram;
	uint64_t base, size;
	struct vm_machine *m;
	void *accel; /* the accelerator's own state */
};

static inline void rv_init(struct rv_cpu *c, struct vm_machine *m, void *accel)
{
	memset(c, 0, sizeof *c);
	for (int i = 1; i < 32; i++)
		c->x[i] = (ureg)m->x[i];
	c->pc = (ureg)m->pc;
	c->ram = m->ram;
	c->base = m->ram_base;
	c->size = m->ram_size;
	c->m = m;
	c->accel = accel;
}

/* Ends the run at the current pc; returns the status given. */
static inline int rv_stop(struct rv_cpu *c, int status)
{
	c->m->stop_pc = c->pc;
	c->m->instructions = c->instructions;
	return status;
}

#define RV_FAULT(c, ...) (snprintf((c)->m->why, sizeof (c)->m->why, __VA_ARGS__), rv_stop((c), VM_FAULT))

/* Where a fetch at pc reads in RAM; -1 (as an offset) outside it or misaligned. */
static inline uint64_t rv_fetch_off(const struct rv_cpu *c, ureg pc)
{
	uint64_t off = (uint64_t)pc - c->base;
	if (off >= c->size || c->size - off < 4 || (pc & 3))
		return UINT64_MAX;
	return off;
}

static inline int rv_bad_fetch(struct rv_cpu *c)
{
	if (c->pc & 3)
		return RV_FAULT(c, "instruction fetch from misaligned address 0x%" PRIx64,
				(uint64_t)c->pc);
	return RV_FAULT(c, "instruction fetch from 0x%" PRIx64 ", outside RAM", (uint64_t)c->pc);
}

/* A load; 0 with *out, else the status that ends the run. */
static inline int rv_load(struct rv_cpu *c, ureg addr, unsigned size, int sign, ureg *out)
{
	uint64_t off = (uint64_t)addr - c->base, v = 0;
	if (off < c->size && c->size - off >= size) {
		memcpy(&v, c->ram + off, size); /* the host is little-endian, as the guest */
	} else {
		int st = c->m->device(c->m, addr, size, 0, &v);
		if (st != VM_CONTINUE)
			return rv_stop(c, st);
	}
	if (sign && size < 8) {
		uint64_t bit = 1ull << (size * 8 - 1);
		v &= (bit << 1) - 1;
		v = (v ^ bit) - bit;
	}
	*out = (ureg)v;
	return 0;
}

static inline int rv_store(struct rv_cpu *c, ureg addr, unsigned size, ureg val)
{
	uint64_t off = (uint64_t)addr - c->base, v = val;
	if (off < c->size && c->size - off >= size) {
		memcpy(c->ram + off, &v, size);
		RV_ON_STORE(c, off, size);
		return 0;
	}
	int st = c->m->device(c->m, addr, size, 1, &v);
	return st == VM_CONTINUE ? 0 : rv_stop(c, st);
}

#define RV_SHIFT_MASK (XLEN - 1)

/*
 * Executes op, the instruction at c->pc, and moves pc on. Returns 0 to go
 * on, or VM_EXIT / VM_FAULT with the machine's exit_code or why set.
 */
static inline int rv_exec(struct rv_cpu *c, const struct rv_op *op)
{
	ureg *x = c->x, a = x[op->rs1], b = x[op->rs2], next = c->pc + 4;
	ureg imm = (ureg)(sreg)op->imm;
	ureg v = 0;
	int st = 0;
	c->instructions++;
	switch (op->opc) {
	case RV_LUI: v = imm; break;
	case RV_AUIPC: v = c->pc + imm; break;
	case RV_JAL: v = next; next = c->pc + imm; break;
	case RV_JALR: v = next; next = (a + imm) & ~(ureg)1; break;
	case RV_BEQ: if (a == b) next = c->pc + imm; goto no_rd;
	case RV_BNE: if (a != b) next = c->pc + imm; goto no_rd;
	case RV_BLT: if ((sreg)a < (sreg)b) next = c->pc + imm; goto no_rd;
	case RV_BGE: if ((sreg)a >= (sreg)b) next = c->pc + imm; goto no_rd;
	case RV_BLTU: if (a < b) next = c->pc + imm; goto no_rd;
	case RV_BGEU: if (a >= b) next = c->pc + imm; goto no_rd;
	case RV_LB: st = rv_load(c, a + imm, 1, 1, &v); break;
	case RV_LH: st = rv_load(c, a + imm, 2, 1, &v); break;
	case RV_LW: st = rv_load(c, a + imm, 4, 1, &v); break;
	case RV_LD: st = rv_load(c, a + imm, 8, 0, &v); break;
	case RV_LBU: st = rv_load(c, a + imm, 1, 0, &v); break;
	case RV_LHU: st = rv_load(c, a + imm, 2, 0, &v); break;
	case RV_LWU: st = rv_load(c, a + imm, 4, 0, &v); break;
	case RV_SB: st = rv_store(c, a + imm, 1, b); goto no_rd;
	case RV_SH: st = rv_store(c, a + imm, 2, b); goto no_rd;
	case RV_SW: st = rv_store(c, a + imm, 4, b); goto no_rd;
	case RV_SD: st = rv_store(c, a + imm, 8, b); goto no_rd;
	case RV_ADDI: v = a + imm; break;
	case RV_SLTI: v = (sreg)a < (sreg)imm; break;
	case RV_SLTIU: v = a < imm; break;
	case RV_XORI: v = a ^ imm; break;
	case RV_ORI: v = a | imm; break;
	case RV_ANDI: v = a & imm; break;
	case RV_SLLI: v = a << (imm & RV_SHIFT_MASK); break;
	case RV_SRLI: v = a >> (imm & RV_SHIFT_MASK); break;
	case RV_SRAI: v = (ureg)((sreg)a >> (imm & RV_SHIFT_MASK)); break;
	case RV_ADD: v = a + b; break;
	case RV_SUB: v = a - b; break;
	case RV_SLL: v = a << (b & RV_SHIFT_MASK); break;
	case RV_SLT: v = (sreg)a < (sreg)b; break;
	case RV_SLTU: v = a < b; break;
	case RV_XOR: v = a ^ b; break;
	case RV_SRL: v = a >> (b & RV_SHIFT_MASK); break;
	case RV_SRA: v = (ureg)((sreg)a >> (b & RV_SHIFT_MASK)); break;
	case RV_OR: v = a | b; break;
	case RV_AND: v = a & b; break;
	case RV_ADDIW: v = (ureg)(sreg)(int32_t)(uint32_t)(a + imm); break;
	case RV_SLLIW: v = (ureg)(sreg)(int32_t)((uint32_t)a << (imm & 31)); break;
	case RV_SRLIW: v = (ureg)(sreg)(int32_t)((uint32_t)a >> (imm & 31)); break;
	case RV_SRAIW: v = (ureg)(sreg)((int32_t)(uint32_t)a >> (imm & 31)); break;
	case RV_ADDW: v = (ureg)(sreg)(int32_t)(uint32_t)(a + b); break;
	case RV_SUBW: v = (ureg)(sreg)(int32_t)(uint32_t)(a - b); break;
	case RV_SLLW: v = (ureg)(sreg)(int32_t)((uint32_t)a << (b & 31)); break;
	case RV_SRLW: v = (ureg)(sreg)(int32_t)((uint32_t)a >> (b & 31)); break;
	case RV_SRAW: v = (ureg)(sreg)((int32_t)(uint32_t)a >> (b & 31)); break;
	case RV_FENCE: goto no_rd;
	case RV_ECALL:
		return RV_FAULT(c, "ecall at 0x%" PRIx64 ": no trap handling on this machine",
				(uint64_t)c->pc);
	case RV_EBREAK:
		return RV_FAULT(c, "ebreak at 0x%" PRIx64, (uint64_t)c->pc);
	default:
		c->instructions--;
		return RV_FAULT(c, "illegal instruction 0x%08" PRIx32 " at 0x%" PRIx64 " (%s)",
				op->insn, (uint64_t)c->pc, RV_TARGET);
	}
	if (st)
		return st;
	if (op->rd)
		x[op->rd] = v;
	c->pc = next;
	return 0;
no_rd:
	if (st)
		return st;
	c->pc = next;
	return 0;
}

#endif /* VMRUN_RV_H */
