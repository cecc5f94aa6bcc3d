# SPDX-License-Identifier: MIT
# exitcode.S - fails through the finisher with a code it computes (6 * 7).
	.include "guest.inc"
	.text
	.globl main
main:
	addi sp, sp, -16
	sreg ra, 0(sp)
	li t0, 6
	li a0, 0
	li t1, 7
1:	add a0, a0, t0
	addi t1, t1, -1
	bnez t1, 1b
	sreg a0, 8(sp)
	mv a1, a0
	show "exit"
	lreg a0, 8(sp)
	lreg ra, 0(sp)
	addi sp, sp, 16
	ret
