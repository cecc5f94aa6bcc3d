#!/bin/bash
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/tap.sh"
finish
