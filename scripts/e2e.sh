#!/usr/bin/env bash
# placeholder: filled by the packaging work
echo "e2e: not yet implemented"
