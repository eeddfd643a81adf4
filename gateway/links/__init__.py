"""Guest links (what Avigilon Alta calls a guest token): one camera, live or a recorded
window, for a limited time, opened by whoever holds the URL, revocable at once.

    store.py   the `guest_links` table (SHA-256 of each id, never the id)
    book.py    LinkBook: the cache the middleware reads, create/revoke/list, the streams
               to close when a link goes, the expiry sweeper
    guest.py   a link id presented as a credential: its Grant, and the routes it opens
    routes.py  /api/v1/links, the guest page /g/{id} and its state stream
"""
