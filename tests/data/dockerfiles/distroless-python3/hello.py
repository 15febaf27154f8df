import os
import sys

print("Hello, world!", sorted(os.listdir(sys.argv[1]))[:3])
