"""requests-futures: FuturesSession with a worker pool, as_completed."""

import sys
from concurrent.futures import as_completed

from requests_futures.sessions import FuturesSession

urls = open(sys.argv[1]).read().split()
n = int(sys.argv[2])
session = FuturesSession(max_workers=n)
ok = sum(f.result().status_code == 200 for f in as_completed(session.get(u) for u in urls))
print(ok)
