"""Desktop: the tray icon, its state and controller, dialogs, icons, autostart, single instance.

May import: ``gigachat.core`` (settings, credentials, errors, logs), and from ``gigachat.local``
only the façade ``gigachat.local.service`` (``Service``, its snapshot and actions).
pystray and tkinter are imported here only, and only in tray mode.
"""
