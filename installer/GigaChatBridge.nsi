; Windows installer for "Мост ГигаЧат для 1С" (NSIS 3, Modern UI 2, Russian).
;
; Build: python installer\build.py   (runs PyInstaller, then makensis with the version)
; By hand: makensis -V2 -WX -DVERSION=x.y.z installer\GigaChatBridge.nsi
;
; Defines (-DNAME=value):
;   VERSION     required; installer/build.py passes gigachat.__version__
;   SOURCE_DIR  the PyInstaller one-folder app   (default ..\dist\GigaChatBridge)
;   APP_EXE     the program file in SOURCE_DIR   (default GigaChatBridge.exe)
;   CONSOLE_EXE optional console twin of APP_EXE (GigaChatBridgeConsole.exe on Windows)
;   ONEC_DIR    the 1C kit                      (default ..\resources\1c)
;   ICON        installer icon                  (default ..\resources\icons\GigaChatBridge.ico)
;   OUTDIR      where the setup .exe goes       (default ..\dist)
;
; Per-user install (no administrator rights): %LOCALAPPDATA%\Programs\GigaChatBridge.
; The autostart value is the one the tray menu writes (gigachat/desktop/autostart.py):
; HKCU\Software\Microsoft\Windows\CurrentVersion\Run, value "GigaChatBridge".
; The uninstaller can delete the stored key by running the program with --delete-key
; (Windows Credential Manager, target "GigaChatBridge" / "authorization_key@GigaChatBridge").

Unicode true
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "VERSION is not set: makensis -DVERSION=x.y.z (installer/build.py passes it)"
!endif
!ifndef SOURCE_DIR
  !define SOURCE_DIR "..\dist\GigaChatBridge"
!endif
!ifndef APP_EXE
  !define APP_EXE "GigaChatBridge.exe"
!endif
!ifndef ONEC_DIR
  !define ONEC_DIR "..\resources\1c"
!endif
!ifndef ICON
  !define ICON "..\resources\icons\GigaChatBridge.ico"
!endif
!ifndef OUTDIR
  !define OUTDIR "..\dist"
!endif

; x.y.z[anything] -> x.y.z.0 for the file-properties version
!searchparse /noerrors "${VERSION}" "" VER_1 "." VER_2 "." VER_3
!ifndef VER_2
  !define VER_2 0
!endif
!ifndef VER_3
  !define VER_3 0
!endif
!searchparse /noerrors "${VER_3}" "" VER_3_NUM "rc"
!ifndef VI_VERSION
  !ifdef VER_3_NUM
    !define VI_VERSION "${VER_1}.${VER_2}.${VER_3_NUM}.0"
  !else
    !define VI_VERSION "${VER_1}.${VER_2}.${VER_3}.0"
  !endif
!endif

!define APP_NAME "GigaChatBridge"
!define PRODUCT "Мост ГигаЧат для 1С"
!define ONEC_FOLDER "Файлы для 1С"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_NAME}"
!define APP_KEY "Software\${APP_NAME}"
!define UNINSTALLER "uninstall.exe"

Name "${PRODUCT}"
Caption "${PRODUCT} ${VERSION} — установка"
UninstallCaption "${PRODUCT} — удаление"
BrandingText "${PRODUCT} ${VERSION}"
OutFile "${OUTDIR}\${APP_NAME}-${VERSION}-setup.exe"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${APP_KEY}" "InstallDir"
ShowInstDetails hide
ShowUninstDetails hide

VIProductVersion "${VI_VERSION}"
VIFileVersion "${VI_VERSION}"
VIAddVersionKey /LANG=1049 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=1049 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1049 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1049 "FileDescription" "Установка программы «${PRODUCT}»"
VIAddVersionKey /LANG=1049 "LegalCopyright" "${APP_NAME}"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "Sections.nsh"
!include "FileFunc.nsh"

; --- pages ------------------------------------------------------------------
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_WELCOMEPAGE_TEXT "Мастер установит «${PRODUCT}» версии ${VERSION}.$\r$\n$\r$\n\
Программа связывает 1С с нейросетью ГигаЧат: 1С обращается к ней по адресу на этом \
компьютере, а ключ авторизации хранится в защищённом хранилище Windows.$\r$\n$\r$\n\
Установка выполняется только для текущего пользователя, права администратора не нужны.$\r$\n$\r$\n\
Нажмите «Далее», чтобы продолжить."
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_TEXT "«${PRODUCT}» установлен.$\r$\n$\r$\n\
Значок моста появится в трее рядом с часами; через его меню вводится ключ авторизации \
ГигаЧат. Файлы для 1С лежат в папке «${ONEC_FOLDER}» рядом с программой."
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Запустить мост сейчас"
!define MUI_FINISHPAGE_SHOWREADME ""
!define MUI_FINISHPAGE_SHOWREADME_TEXT "Открыть папку с файлами для 1С"
!define MUI_FINISHPAGE_SHOWREADME_FUNCTION OpenOneCFolder
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "Russian"

; --- helpers ----------------------------------------------------------------
; Stop this user's running bridge so its files can be replaced or removed.
!macro CLOSE_RUNNING_BRIDGE prefix
Function ${prefix}CloseRunningBridge
  ReadEnvStr $0 USERNAME
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /FI "IMAGENAME eq ${APP_EXE}" /FI "USERNAME eq $0"'
  Pop $1
  !ifdef CONSOLE_EXE
    nsExec::Exec '"$SYSDIR\taskkill.exe" /F /FI "IMAGENAME eq ${CONSOLE_EXE}" /FI "USERNAME eq $0"'
    Pop $1
  !endif
  Sleep 500 ; let Windows release the program's files
FunctionEnd
!macroend
!insertmacro CLOSE_RUNNING_BRIDGE ""
!insertmacro CLOSE_RUNNING_BRIDGE "un."

Function OpenOneCFolder
  ExecShell "open" "$INSTDIR\${ONEC_FOLDER}"
FunctionEnd

; --- install ----------------------------------------------------------------
Section "Мост ГигаЧат для 1С (обязательно)" SecMain
  SectionIn RO
  SetShellVarContext current
  Call CloseRunningBridge

  SetOutPath "$INSTDIR"
  RMDir /r "$INSTDIR\_internal" ; no stale files from an older version
  File "${SOURCE_DIR}\${APP_EXE}"
  !ifdef CONSOLE_EXE
    File "${SOURCE_DIR}\${CONSOLE_EXE}"
  !endif
  File /r "${SOURCE_DIR}\_internal"

  SetOutPath "$INSTDIR\${ONEC_FOLDER}"
  File /r "${ONEC_DIR}\*"

  SetOutPath "$INSTDIR"
  WriteUninstaller "$INSTDIR\${UNINSTALLER}"

  CreateDirectory "$SMPROGRAMS\${PRODUCT}"
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\${ONEC_FOLDER}.lnk" "$INSTDIR\${ONEC_FOLDER}"
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\Удалить «${PRODUCT}».lnk" "$INSTDIR\${UNINSTALLER}"

  WriteRegStr HKCU "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${APP_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINSTALLER}"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINSTALLER}" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Запускать при входе в систему" SecAutostart
  WriteRegStr HKCU "${RUN_KEY}" "${APP_NAME}" '"$INSTDIR\${APP_EXE}"'
SectionEnd

Section /o "Ярлык на рабочем столе" SecDesktop
  CreateShortCut "$DESKTOP\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"
SectionEnd

; An unticked option undoes what an earlier installation did.
Section "-ApplyUnticked"
  ${IfNot} ${SectionIsSelected} ${SecAutostart}
    DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"
  ${EndIf}
  ${IfNot} ${SectionIsSelected} ${SecDesktop}
    Delete "$DESKTOP\${PRODUCT}.lnk"
  ${EndIf}
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecMain} "Программа, ярлыки в меню «Пуск» и папка «${ONEC_FOLDER}»."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "Мост сам запускается при входе в Windows. \
Изменить можно и потом: меню значка в трее."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} "Значок для запуска моста на рабочем столе."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

; --- uninstall --------------------------------------------------------------
Section "un.Программа, ярлыки и автозапуск (обязательно)" UnSecMain
  SectionIn RO
  SetShellVarContext current
  Call un.CloseRunningBridge
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"
  Delete "$DESKTOP\${PRODUCT}.lnk"
  RMDir /r "$SMPROGRAMS\${PRODUCT}"
  DeleteRegKey HKCU "${UNINST_KEY}"
  DeleteRegValue HKCU "${APP_KEY}" "InstallDir"
  DeleteRegKey /ifempty HKCU "${APP_KEY}"
SectionEnd

; Off by default: the key survives a reinstall unless the user asks otherwise.
Section /o "un.Сохранённый ключ авторизации и настройки" UnSecKey
  ; The program removes the key itself: the same keyring code that stored it.
  ExecWait '"$INSTDIR\${APP_EXE}" --delete-key' $0
  ${If} $0 != 0
    MessageBox MB_OK|MB_ICONEXCLAMATION "Не удалось удалить ключ авторизации автоматически.$\r$\n\
Удалите его вручную: Панель управления → Диспетчер учётных данных → Учётные данные Windows → \
записи со словом «${APP_NAME}»." /SD IDOK
  ${EndIf}
  RMDir /r "$APPDATA\${APP_NAME}"      ; settings.json
  RMDir /r "$LOCALAPPDATA\${APP_NAME}" ; logs
SectionEnd

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${UnSecMain} "Программа, ярлыки и запуск при входе в систему."
  !insertmacro MUI_DESCRIPTION_TEXT ${UnSecKey} "Ключ авторизации ГигаЧат из диспетчера учётных \
данных Windows, настройки и журналы. Не отмечайте, если будете ставить мост снова."
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END

Section "-un.Files"
  Delete "$INSTDIR\${APP_EXE}"
  !ifdef CONSOLE_EXE
    Delete "$INSTDIR\${CONSOLE_EXE}"
  !endif
  RMDir /r "$INSTDIR\_internal"
  RMDir /r "$INSTDIR\${ONEC_FOLDER}"
  Delete "$INSTDIR\${UNINSTALLER}"
  RMDir "$INSTDIR" ; only if empty: never remove what the user put there
SectionEnd
