# SPDX-License-Identifier: MIT
# initrd.S - a checksum of the initrd. Both machines put it where QEMU's
# virt board does: half-way into its default 128 MiB of RAM past the
# entry point, at 0x84000000. It starts with its payload's length (32
# bits, little-endian); the checksum is h = h * 31 + byte, modulo 2^32.
	.include "guest.inc"
	.text
	.globl main
main:
	addi sp, sp, -16
	sreg ra, 0(sp)
	li s0, 0x84000000
	.if XLEN == 64
	slli s0, s0, 32		# li sign-extends 0x84000000 on RV64
	srli s0, s0, 32
	.endif
	lbu s1, 0(s0)		# the length, a byte at a time
	lbu t0, 1(s0)
	slli t0, t0, 8
	or s1, s1, t0
	lbu t0, 2(s0)
	slli t0, t0, 16
	or s1, s1, t0
	lbu t0, 3(s0)
	slli t0, t0, 24
	or s1, s1, t0
	.if XLEN == 64
	slli s1, s1, 32
	srli s1, s1, 32
	.endif
	mv a1, s1
	show "length"
	addi s0, s0, 4
	li s2, 0
	beqz s1, 2f
1:	lbu t0, 0(s0)
	slli t1, s2, 5
	sub s2, t1, s2
	add s2, s2, t0
	.if XLEN == 64
	slli s2, s2, 32
	srli s2, s2, 32
	.endif
	addi s0, s0, 1
	addi s1, s1, -1
	bnez s1, 1b
2:	mv a1, s2
	show "checksum"
	lreg ra, 0(sp)
	addi sp, sp, 16
	li a0, 0
	ret
