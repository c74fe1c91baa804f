"""The lab's console in a browser (``labd web``): live jobs, printers and the journal.

The people labd works for are not at the print server: technicians stand at the printers
and the QC table, the supervisor sits in an office.  The console shows them what happens
now and lets them act, through the same functions as the command line
(:mod:`labd.printing.actions`), with the web user's name where the command line puts the
system user's.  It opens the journal as a command does (never creating or migrating it),
so it runs beside the daemon as a process of its own, with its own hardened unit.

:mod:`~labd.web.accounts` (the accounts and their table), :mod:`~labd.web.sessions`
(sessions, CSRF tokens, the per-address login throttle), :mod:`~labd.web.roles` (who may
use which route), :mod:`~labd.web.app` (the ASGI application: pages, actions, headers) and
:mod:`~labd.web.server` (uvicorn, TLS).  This package's ``__init__`` imports nothing: every
command imports :mod:`labd.schemas`, which names the accounts' table, and must not pay
for the web server.
"""
