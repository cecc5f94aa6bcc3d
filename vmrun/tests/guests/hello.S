# SPDX-License-Identifier: MIT
# hello.S - a line on the console, then a passing exit.
	.include "guest.inc"
	.text
	.globl main
main:
	addi sp, sp, -16
	sreg ra, 0(sp)
	la a0, msg
	call puts
	lreg ra, 0(sp)
	addi sp, sp, 16
	li a0, 0
	ret
	.section .rodata
msg:	.asciz "hello from a bare-metal RISC-V guest\n"
