"""Immutability audit: secrets in every layer (also deleted ones), unpinned bases, root users,
permissions, wasted bytes, read-only readiness; drift of containers; an image overview.

The entry points are :func:`reprokit.audit`, :func:`reprokit.drift`, :func:`reprokit.images`
and :func:`reprokit.assert_no_findings`; the rule table is :data:`reprokit.auditing.rules.RULES`.
"""
