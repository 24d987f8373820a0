"""A minimal XEmbed system tray for tests: `python -m tests.mini_tray DISPLAY [--ignore N] [--squeeze]`.

It owns the tray selection, announces itself with MANAGER, and embeds docked icons into a white
window, printing what it does. `--ignore N` drops the first N dock requests (as trayer does for
a window id it still remembers); `--squeeze` gives the icon a 1 px wide slot.
"""

from __future__ import annotations

import argparse

from Xlib import X, display
from Xlib.protocol import event

REQUEST_DOCK = 0
SLOT = 30


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("display")
    parser.add_argument("--ignore", type=int, default=0)
    parser.add_argument("--squeeze", action="store_true")
    args = parser.parse_args()

    connection = display.Display(args.display)
    screen = connection.screen()
    selection = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
    opcode = connection.intern_atom("_NET_SYSTEM_TRAY_OPCODE")
    tray = screen.root.create_window(600, 0, 200, 40, 0, screen.root_depth,
                                     background_pixel=screen.white_pixel)
    tray.map()
    tray.set_selection_owner(selection, X.CurrentTime)
    screen.root.send_event(event.ClientMessage(
        window=screen.root, client_type=connection.intern_atom("MANAGER"),
        data=(32, [X.CurrentTime, selection, tray.id, 0, 0])), event_mask=X.StructureNotifyMask)
    connection.flush()
    print("owning the tray", flush=True)
    requests = 0
    while True:
        message = connection.next_event()
        if message.type != X.ClientMessage or message.client_type != opcode:
            continue
        if message.data[1][1] != REQUEST_DOCK:
            continue
        requests += 1
        icon = connection.create_resource_object("window", message.data[1][2])
        print(f"dock request {requests}", flush=True)
        if requests <= args.ignore:
            continue
        icon.reparent(tray, 4, 4)
        icon.configure(width=1 if args.squeeze else SLOT, height=SLOT)
        icon.map()
        connection.flush()
        print("docked", flush=True)


if __name__ == "__main__":
    main()
