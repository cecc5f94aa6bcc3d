# SPDX-License-Identifier: MIT
# illegal.S - prints a line, then runs a multiply: no M extension here.
	.include "guest.inc"
	.text
	.globl main
main:
	la a0, msg
	call puts
	.word 0x02b50533	# mul a0, a0, a1
	ret
	.section .rodata
msg:	.asciz "about to multiply\n"
