"""The Windows file properties ("Details" tab) of GigaChatBridge.exe, for the PyInstaller spec."""

from __future__ import annotations

import re

PRODUCT = "Мост ГигаЧат для 1С"


def numeric_version(version: str) -> tuple[int, int, int, int]:
    """'1.2.3rc1' -> (1, 2, 3, 0): the four numbers Windows file versions have."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    if not numbers:
        raise ValueError(f"version {version!r} has no numbers")
    return tuple((numbers + [0, 0, 0, 0])[:4])  # type: ignore[return-value]


def version_info(version: str, exe_name: str):
    """A PyInstaller VSVersionInfo: product name and version, Russian string table."""
    from PyInstaller.utils.win32.versioninfo import (
        FixedFileInfo,
        StringFileInfo,
        StringStruct,
        StringTable,
        VarFileInfo,
        VarStruct,
        VSVersionInfo,
    )

    numbers = numeric_version(version)
    strings = [
        StringStruct("CompanyName", "GigaChatBridge"),
        StringStruct("FileDescription", PRODUCT),
        StringStruct("FileVersion", version),
        StringStruct("InternalName", exe_name.removesuffix(".exe")),
        StringStruct("OriginalFilename", exe_name),
        StringStruct("ProductName", PRODUCT),
        StringStruct("ProductVersion", version),
    ]
    return VSVersionInfo(
        ffi=FixedFileInfo(filevers=numbers, prodvers=numbers),
        kids=[StringFileInfo([StringTable("041904B0", strings)]),  # Russian, UTF-16
              VarFileInfo([VarStruct("Translation", [0x0419, 1200])])],
    )
