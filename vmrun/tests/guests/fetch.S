# SPDX-License-Identifier: MIT
# fetch.S - jumps to an address with no RAM behind it.
	.include "guest.inc"
	.text
	.globl main
main:
	li t0, 0x40000000
	jr t0
