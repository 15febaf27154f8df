#!/bin/sh
echo "hello from reprokit's example (build $(cat /app/BUILD_ID))"
