"""``--deny-private``: refuse connections to addresses that are not on the public internet.

The check runs where libcurl opens each socket (CURLOPT_OPENSOCKETFUNCTION), on the address it is
about to connect to: every redirect hop and every new connection is checked after DNS, so neither
a redirect nor DNS rebinding can slip past it, and numeric forms (``http://2130706433/``,
``http://0x7f.1/``, ``[::ffff:127.0.0.1]``) are judged by the address they resolve to.
"""

from __future__ import annotations

import ipaddress


def denied_reason(host: str) -> str | None:
    """Why connecting to the IP address ``host`` is refused, or None when it is public."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return f"{host} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            inner = denied_reason(str(embedded))
            if inner:
                return f"{ip} embeds {inner}"
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_unspecified:
        return f"{ip} is unspecified"
    if ip.is_private or not ip.is_global:
        return f"{ip} is a private or reserved address"
    return None
