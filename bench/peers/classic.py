"""The classic pattern: requests.get in a ThreadPoolExecutor (requests speaks HTTP/1.1 only).

Every peer takes: URL_FILE CONNECTIONS [CA_FILE [HTTP_VERSION]]; the CA file verifies HTTPS servers,
the HTTP version (1.1, 2, or auto: as the server offers by ALPN) is honoured where the library has a
choice.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import requests

urls = open(sys.argv[1]).read().split()
cafile = sys.argv[3] if len(sys.argv) > 3 else None
get = partial(requests.get, verify=cafile) if cafile else requests.get
with ThreadPoolExecutor(max_workers=int(sys.argv[2])) as pool:
    codes = [r.status_code for r in pool.map(get, urls)]
print(codes.count(200))
