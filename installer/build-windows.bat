@echo off
rem Build GigaChatBridge-<version>-setup.exe on Windows.
rem Needs: Python 3.11 (the "py" launcher) and NSIS 3 (makensis in PATH or Program Files).
rem Usage: installer\build-windows.bat   (from any folder)
setlocal
chcp 65001 >nul
cd /d "%~dp0.."

if not exist ".venv-build\Scripts\python.exe" (
    py -3.11 -m venv .venv-build || goto :error
)
rem Runtime pins plus the packaging pins from requirements-dev.txt (no test tools).
findstr /b /c:"pyinstaller" /c:"altgraph" /c:"pefile" /c:"packaging" requirements-dev.txt > "%TEMP%\gigachat-build-pins.txt"
".venv-build\Scripts\python.exe" -m pip install --disable-pip-version-check -q -r requirements.txt -r "%TEMP%\gigachat-build-pins.txt" || goto :error
".venv-build\Scripts\python.exe" installer\build.py %* || goto :error
echo.
echo Готово: установщик и папка программы — в dist\
exit /b 0

:error
echo Сборка не удалась: см. сообщения выше. 1>&2
exit /b 1
