"""requests-futures: FuturesSession with a worker pool, as_completed (HTTP/1.1 only).

The CA file goes with each request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the
environment override a session's verify=.
"""

import sys
from concurrent.futures import as_completed

from requests_futures.sessions import FuturesSession

urls = open(sys.argv[1]).read().split()
n = int(sys.argv[2])
verify = sys.argv[3] if len(sys.argv) > 3 else True
session = FuturesSession(max_workers=n)
ok = sum(f.result().status_code == 200 for f in as_completed(session.get(u, verify=verify) for u in urls))
print(ok)
