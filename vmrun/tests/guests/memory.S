# SPDX-License-Identifier: MIT
# memory.S - stores of every width, then loads of every width, signed and
# unsigned, at every offset they can take in a buffer; each value printed.
	.include "guest.inc"
	.text
	.globl main
main:
	addi sp, sp, -16
	sreg ra, 0(sp)
	la s0, buf
	li t0, 0x81
	sb t0, 0(s0)
	li t0, 0xfe
	sb t0, 1(s0)
	li t0, 0x8002
	sh t0, 2(s0)
	li t0, 0xf00dcafe
	sw t0, 4(s0)
	li t0, -2
	sw t0, 8(s0)
	li t0, 0x7f
	sb t0, 12(s0)
	sh t0, 14(s0)
	.if XLEN == 64
	li t0, 0x8877665544332211
	sd t0, 16(s0)
	.endif
	lb a1, 0(s0)
	show "lb"
	lbu a1, 0(s0)
	show "lbu"
	lb a1, 12(s0)
	show "lb-pos"
	lh a1, 2(s0)
	show "lh"
	lhu a1, 2(s0)
	show "lhu"
	lh a1, 0(s0)
	show "lh-pair"
	lw a1, 4(s0)
	show "lw"
	lw a1, 0(s0)
	show "lw-mixed"
	lw a1, 8(s0)
	show "lw-neg"
	addi s1, s0, 16
	lw a1, -4(s1)
	show "lw-negoff"
	.if XLEN == 64
	lwu a1, 4(s0)
	show "lwu"
	ld a1, 16(s0)
	show "ld"
	ld a1, 0(s0)
	show "ld-low"
	lwu a1, 20(s0)
	show "lwu-high"
	.endif
	lreg ra, 0(sp)
	addi sp, sp, 16
	li a0, 0
	ret
	.data
	.balign 8
buf:	.space 32
