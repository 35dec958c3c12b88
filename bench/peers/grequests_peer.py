"""grequests: imap with a pool size (HTTP/1.1 only)."""

import sys

import grequests

urls = open(sys.argv[1]).read().split()
verify = sys.argv[3] if len(sys.argv) > 3 else True
reqs = (grequests.get(u, verify=verify) for u in urls)
ok = sum(r.status_code == 200 for r in grequests.imap(reqs, size=int(sys.argv[2])))
print(ok)
