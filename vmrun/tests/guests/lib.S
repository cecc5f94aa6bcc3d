# SPDX-License-Identifier: MIT
# lib.S - start-up, console output and exit, shared by vmrun's guest
# programs. Only what QEMU's virt board and vmrun both have: RAM at
# 0x80000000, the ns16550a UART at 0x10000000 (polled), the SiFive test
# finisher at 0x100000. main returns the exit code in a0.
	.include "guest.inc"
	.equ UART, 0x10000000
	.equ FINISHER, 0x100000

	# First in .text, and lib.o is linked first: QEMU's virt board starts
	# at RAM's base with -bios none, whatever the entry point says.
	.text
	.globl _start
_start:
	la sp, stack_top
	call main
	j exit

# putc(a0): waits until the transmitter holding register is empty (LSR
# bit 5), then writes the byte. Uses t0, t1.
	.globl putc
putc:
	li t0, UART
1:	lbu t1, 5(t0)
	andi t1, t1, 0x20
	beqz t1, 1b
	sb a0, 0(t0)
	ret

# puts(a0): a NUL-terminated string. Uses t0-t3.
	.globl puts
puts:
	mv t2, a0
	mv t3, ra
1:	lbu a0, 0(t2)
	beqz a0, 2f
	call putc
	addi t2, t2, 1
	j 1b
2:	jr t3

# puthex(a0): "0x" and XLEN/4 hex digits. Uses t0-t6.
	.globl puthex
puthex:
	mv t4, a0
	mv t3, ra
	li a0, '0'
	call putc
	li a0, 'x'
	call putc
	li t5, XLEN - 4
1:	srl t6, t4, t5
	andi t6, t6, 15
	addi a0, t6, '0'
	li t2, 10
	blt t6, t2, 2f
	addi a0, t6, 'a' - 10
2:	call putc
	addi t5, t5, -4
	bgez t5, 1b
	jr t3

# show(a0 = name, a1 = value): "name 0x...\n". Keeps the s registers.
	.globl show
show:
	addi sp, sp, -16
	sreg ra, 0(sp)
	sreg a1, 8(sp)
	call puts
	li a0, ' '
	call putc
	lreg a0, 8(sp)
	call puthex
	li a0, '\n'
	call putc
	lreg ra, 0(sp)
	addi sp, sp, 16
	ret

# exit(a0): the finisher ends the run, passing for 0, failing with a0 else.
	.globl exit
exit:
	li t0, FINISHER
	li t1, 0x5555
	beqz a0, 1f
	slli a0, a0, 16
	li t1, 0x3333
	or t1, t1, a0
1:	sw t1, 0(t0)
2:	j 2b

	.bss
	.balign 16
	.space 8192
stack_top:
