# SPDX-License-Identifier: MIT
# arith.S - every integer computation of the base ISA, on values that
# overflow, carry and sign-extend; each result printed.
	.include "guest.inc"
	.text
	.globl main
main:
	addi sp, sp, -16
	sreg ra, 0(sp)
	li s0, 0x7fffffff
	li s1, -3
	li s2, 0x12345678
	add a1, s0, s0
	show "add"
	sub a1, s1, s0
	show "sub"
	addi a1, s0, 1
	show "addi"
	addi a1, s1, -2048
	show "addi-neg"
	slt a1, s1, s0
	show "slt"
	sltu a1, s1, s0
	show "sltu"
	slti a1, s1, -2
	show "slti"
	sltiu a1, s0, -1
	show "sltiu"
	xor a1, s1, s2
	show "xor"
	xori a1, s2, -1
	show "xori"
	or a1, s1, s2
	show "or"
	ori a1, s2, 0x7f0
	show "ori"
	and a1, s1, s2
	show "and"
	andi a1, s2, -16
	show "andi"
	li t0, 7
	sll a1, s2, t0
	show "sll"
	srl a1, s1, t0
	show "srl"
	sra a1, s1, t0
	show "sra"
	li t0, XLEN + 3		# only the low log2(XLEN) bits count
	sll a1, s2, t0
	show "sll-wide"
	slli a1, s2, 4
	show "slli"
	srli a1, s1, 1
	show "srli"
	srai a1, s1, 1
	show "srai"
	slli a1, s0, XLEN - 31
	show "slli-top"
	lui a1, 0xfffff
	show "lui"
	lui a1, 0x7ffff
	show "lui-pos"
1:	auipc a1, 0
	la t0, 1b
	sub a1, a1, t0
	show "auipc"
	.if XLEN == 64
	addw a1, s0, s0
	show "addw"
	subw a1, s1, s0
	show "subw"
	addiw a1, s0, 1
	show "addiw"
	li t0, 33
	sllw a1, s2, t0
	show "sllw"
	srlw a1, s1, t0
	show "srlw"
	sraw a1, s1, t0
	show "sraw"
	slliw a1, s2, 4
	show "slliw"
	srliw a1, s1, 4
	show "srliw"
	sraiw a1, s1, 4
	show "sraiw"
	li t0, 0x123456789abcdef0
	srai a1, t0, 36
	show "srai-64"
	.endif
	lreg ra, 0(sp)
	addi sp, sp, 16
	li a0, 0
	ret
