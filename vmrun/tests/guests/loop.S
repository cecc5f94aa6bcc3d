# SPDX-License-Identifier: MIT
# loop.S - a busy loop for measuring speed: 2^24 rounds of 8 instructions
# (arithmetic, a load, a store and a branch), then the result.
	.include "guest.inc"
	.text
	.globl main
main:
	addi sp, sp, -16
	sreg ra, 0(sp)
	la s0, cell
	li s1, 1 << 24
	li a1, 0
1:	lw t0, 0(s0)
	addi t0, t0, 3
	xor a1, a1, t0
	slli t1, a1, 1
	add a1, a1, t1
	sw t0, 0(s0)
	addi s1, s1, -1
	bnez s1, 1b
	show "result"
	lreg ra, 0(sp)
	addi sp, sp, 16
	li a0, 0
	ret
	.data
	.balign 4
cell:	.word 0
