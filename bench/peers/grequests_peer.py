"""grequests: imap with a pool size."""

import sys

import grequests

urls = open(sys.argv[1]).read().split()
ok = sum(r.status_code == 200 for r in grequests.imap((grequests.get(u) for u in urls), size=int(sys.argv[2])))
print(ok)
