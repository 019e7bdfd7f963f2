#!/bin/sh
# Runs a bench entry point under tsx with the open-file limit raised: 10,000 connections need more
# descriptors than the usual soft limit of 1024 (each child inherits the raised limit). The capacity
# scenario wants 50,000 streams in one process: where the hard limit is lower, raising it is tried
# too (it takes CAP_SYS_RESOURCE); when that is refused, the soft limit goes up to the hard one.
hard=$(ulimit -Hn)
if [ "$hard" = "unlimited" ]; then
  ulimit -n 65536 2>/dev/null
elif [ "$hard" -lt 65536 ]; then
  ulimit -n 65536 2>/dev/null || ulimit -n "$hard" 2>/dev/null
else
  ulimit -n "$hard" 2>/dev/null
fi
exec node --import tsx "$@"
