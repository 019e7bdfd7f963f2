#!/bin/sh
# Runs a bench entry point under tsx with the open-file limit raised: 10,000 connections need more
# descriptors than the usual soft limit of 1024 (each child inherits the raised limit).
hard=$(ulimit -Hn)
if [ "$hard" = "unlimited" ]; then ulimit -n 65536 2>/dev/null; else ulimit -n "$hard" 2>/dev/null; fi
exec node --import tsx "$@"
