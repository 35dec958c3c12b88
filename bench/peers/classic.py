"""The classic pattern: requests.get in a ThreadPoolExecutor."""

import sys
from concurrent.futures import ThreadPoolExecutor

import requests

urls = open(sys.argv[1]).read().split()
with ThreadPoolExecutor(max_workers=int(sys.argv[2])) as pool:
    codes = [r.status_code for r in pool.map(requests.get, urls)]
print(codes.count(200))
