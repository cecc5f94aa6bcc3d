/* SPDX-License-Identifier: MIT */
/*
 * machine.h - what vmrun and its accelerators share.
 *
 * An accelerator is a module that registers feature vmrun-accel/NAME, an
 * object of type struct vm_accel, built once per target (riscv32 and
 * riscv64) from one source with -DXLEN=32 or 64. The host hands its run
 * function the machine: RAM, the registers at reset, and one callback for
 * every access outside RAM (the devices). The run loop lives in the
 * accelerator, so nothing crosses the module boundary per instruction;
 * only device accesses call back into the host.
 *
 * Interface version VMRUN_IFACE_MAJOR.VMRUN_IFACE_MINOR: an accelerator
 * declares the one it was built against with LM_INTERFACE().
 */
#ifndef VMRUN_MACHINE_H
#define VMRUN_MACHINE_H

#include <stdint.h>

#define VMRUN_IFACE_MAJOR 1
#define VMRUN_IFACE_MINOR 0

/* The feature kind every accelerator registers. */
#define VMRUN_ACCEL_KIND "vmrun-accel"

/* The board: QEMU's virt, for what it has. */
#define VM_RAM_BASE 0x80000000u
#define VM_UART_BASE 0x10000000u /* ns16550a, registers one byte apart */
#define VM_UART_SIZE 0x100u
#define VM_TEST_BASE 0x100000u /* SiFive test finisher */
#define VM_TEST_SIZE 0x1000u

/* How a device access or a whole run ended. */
enum vm_status {
	VM_CONTINUE = 0, /* the access was served: go on */
	VM_EXIT = 1,     /* the guest ended the run; exit_code holds its code */
	VM_FAULT = 2,    /* the guest did something the machine cannot do; why says what */
};

struct vm_machine {
	/* Guest RAM: [ram_base, ram_base + ram_size), host memory at ram. */
	uint8_t *ram;
	uint64_t ram_base, ram_size;
	/* At reset: the registers (x[0] is 0) and pc. Not updated by run. */
	uint64_t x[32];
	uint64_t pc;
	/*
	 * An access of size 1, 2, 4 or 8 bytes at a guest physical address
	 * outside RAM: a load fills *val, a store takes val. Returns
	 * VM_CONTINUE, VM_EXIT (exit_code set) or VM_FAULT (why set).
	 */
	int (*device)(struct vm_machine *m, uint64_t addr, unsigned size, int is_store,
		      uint64_t *val);
	void *host; /* the host's own data */
	/* Set by the run: */
	int exit_code;
	uint64_t instructions; /* retired, including the one that ended the run */
	uint64_t stop_pc;      /* pc of the instruction that ended the run */
	char why[256];
};

struct vm_accel {
	unsigned xlen; /* 32 or 64: the target it was built for */
	/* Runs the machine until the guest exits (VM_EXIT) or faults (VM_FAULT). */
	int (*run)(struct vm_machine *m);
};

#endif /* VMRUN_MACHINE_H */
