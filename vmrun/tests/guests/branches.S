# SPDX-License-Identifier: MIT
# branches.S - each conditional branch taken and not taken, over signed
# and unsigned pairs, counted; and jal/jalr through a table of routines.
	.include "guest.inc"
	.text
	.globl main
main:
	addi sp, sp, -16
	sreg ra, 0(sp)
	# s2: a bit per branch outcome, for the pairs (-1, 1), (1, 1), (1, -1)
	li s2, 0
	la s3, pairs
	li s4, 3
1:	lreg s0, 0(s3)
	lreg s1, XLEN/8(s3)
	slli s2, s2, 6
	beq s0, s1, 2f
	ori s2, s2, 1
2:	bne s0, s1, 2f
	ori s2, s2, 2
2:	blt s0, s1, 2f
	ori s2, s2, 4
2:	bge s0, s1, 2f
	ori s2, s2, 8
2:	bltu s0, s1, 2f
	ori s2, s2, 16
2:	bgeu s0, s1, 2f
	ori s2, s2, 32
2:	addi s3, s3, XLEN/4
	addi s4, s4, -1
	bnez s4, 1b
	mv a1, s2
	show "outcomes"
	# a backward loop: the sum 1..100
	li a1, 0
	li t0, 100
3:	add a1, a1, t0
	addi t0, t0, -1
	bgtz t0, 3b
	show "sum"
	# jalr through a table; each routine adds its own amount
	li s0, 0
	la s1, table
	li s2, 3
4:	lreg t0, 0(s1)
	jalr t0
	addi s1, s1, XLEN/8
	addi s2, s2, -1
	bnez s2, 4b
	mv a1, s0
	show "calls"
	jal t1, 5f
	li a1, 0xbad
	show "skipped"
5:	la t0, 5b
	sub a1, t1, t0
	show "link"
	lreg ra, 0(sp)
	addi sp, sp, 16
	li a0, 0
	ret
add1:	addi s0, s0, 1
	ret
add10:	addi s0, s0, 10
	ret
add100:	addi s0, s0, 100
	ret
	.data
	.balign 8
	.if XLEN == 64
pairs:	.dword -1, 1, 1, 1, 1, -1
table:	.dword add1, add10, add100
	.else
pairs:	.word -1, 1, 1, 1, 1, -1
table:	.word add1, add10, add100
	.endif
