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
; Per-machine install (/ALLUSERS, administrator): %ProgramFiles%\GigaChatBridge for all users,
; the Run value and the uninstall entry under HKLM.
;
; Silent install for administrators (presets are written to policy.json next to the program,
; a machine-wide policy that user settings cannot override; gigachat/core/policy.py):
;   GigaChatBridge-x.y.z-setup.exe /S [/ALLUSERS] [/API_URL=https://…] [/AUTH_URL=https://…]
;       [/SCOPE=GIGACHAT_API_CORP] [/MODEL=GigaChat-2-Max] [/PORT_RANGE=8100-8999]
;       [/PROXY=http://proxy:3128] [/PROXY_AUTH=basic|ntlm|negotiate]
;       [/MULTIUSER=auto|true|false] [/AUTOSTART=1|0] [/D=C:\Path]
; Silent uninstall: uninstall.exe /S [/DELETEKEY]   (the key is removed only with /DELETEKEY)
; Preset values are ASCII (URLs, names); a password never goes into a preset.
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
!define POLICY_FILE "policy.json"
!define ALL_USERS_FLAG "all-users.flag"

Name "${PRODUCT}" "«${PRODUCT}»" ; the second form, $(^NameDA), is what MUI's Russian texts
; put after «мастер установки», «Программа установит»: quoted, it reads as Russian should
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
!include "WordFunc.nsh"
!include "x64.nsh"

Var AllUsers   ; 1: per-machine install (/ALLUSERS)
Var Presets    ; 1: at least one preset was given: write the policy file
Var ApiUrl
Var AuthUrl
Var Scope
Var Model
Var PortRange
Var Proxy
Var ProxyAuth
Var MultiUser
Var Autostart

; --- pages ------------------------------------------------------------------
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_WELCOMEPAGE_TITLE "Установка программы «${PRODUCT}»"
!define MUI_WELCOMEPAGE_TITLE_3LINES
!define MUI_WELCOMEPAGE_TEXT "Мастер установит «${PRODUCT}» версии ${VERSION}.$\r$\n$\r$\n\
Программа связывает 1С с нейросетью ГигаЧат: 1С обращается к ней по адресу на этом \
компьютере, а ключ авторизации хранится в защищённом хранилище Windows.$\r$\n$\r$\n\
Установка выполняется для текущего пользователя, права администратора не нужны \
(для всех пользователей компьютера: параметр /ALLUSERS).$\r$\n$\r$\n\
Нажмите «Далее», чтобы продолжить."
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
; The finish page leaves little room above its two check boxes: a short text, the large text area.
!define MUI_FINISHPAGE_TITLE "Программа «${PRODUCT}» установлена"
!define MUI_FINISHPAGE_TITLE_3LINES
!define MUI_FINISHPAGE_TEXT_LARGE
!define MUI_FINISHPAGE_TEXT "Значок моста появится в трее рядом с часами. Щёлкните его и \
выберите «Ключ авторизации…», чтобы ввести ключ ГигаЧат.$\r$\n$\r$\n\
Файлы для 1С — в папке «${ONEC_FOLDER}» рядом с программой."
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
  StrCpy $2 '/FI "USERNAME eq $0"'
  ${If} ${FileExists} "$INSTDIR\${ALL_USERS_FLAG}"
  ${OrIf} $AllUsers == 1
    StrCpy $2 "" ; a per-machine install: every user's copy runs from these files
  ${EndIf}
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /FI "IMAGENAME eq ${APP_EXE}" $2'
  Pop $1
  !ifdef CONSOLE_EXE
    nsExec::Exec '"$SYSDIR\taskkill.exe" /F /FI "IMAGENAME eq ${CONSOLE_EXE}" $2'
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
  ${If} $AllUsers == 1
    SetShellVarContext all
  ${Else}
    SetShellVarContext current
  ${EndIf}
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
  ${If} $AllUsers == 1
    FileOpen $0 "$INSTDIR\${ALL_USERS_FLAG}" w
    FileWrite $0 "per-machine install$\r$\n"
    FileClose $0
  ${Else}
    Delete "$INSTDIR\${ALL_USERS_FLAG}"
  ${EndIf}
  ${If} $Presets == 1
    Call WritePolicy
  ${EndIf}

  CreateDirectory "$SMPROGRAMS\${PRODUCT}"
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\${ONEC_FOLDER}.lnk" "$INSTDIR\${ONEC_FOLDER}"
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\Удалить «${PRODUCT}».lnk" "$INSTDIR\${UNINSTALLER}"

  WriteRegStr SHCTX "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINST_KEY}" "Publisher" "${APP_NAME}"
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr SHCTX "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr SHCTX "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINSTALLER}"'
  WriteRegStr SHCTX "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINSTALLER}" /S'
  WriteRegDWORD SHCTX "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD SHCTX "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Запускать при входе в систему" SecAutostart
  ${If} $AllUsers == 1
    WriteRegStr HKLM "${RUN_KEY}" "${APP_NAME}" '"$INSTDIR\${APP_EXE}"'
  ${Else}
    WriteRegStr HKCU "${RUN_KEY}" "${APP_NAME}" '"$INSTDIR\${APP_EXE}"'
  ${EndIf}
SectionEnd

Section /o "Ярлык на рабочем столе" SecDesktop
  CreateShortCut "$DESKTOP\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"
SectionEnd

; An unticked option undoes what an earlier installation did.
Section "-ApplyUnticked"
  ${IfNot} ${SectionIsSelected} ${SecAutostart}
    DeleteRegValue SHCTX "${RUN_KEY}" "${APP_NAME}"
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

; --- silent presets ------------------------------------------------------------
; The value of " /NAME=" in $R0 (the command line with a space in front) up to the next
; " /" or the end, without surrounding quotes; "" when the option is absent. ${GetOptions}
; cannot be used: it cuts values at every "/", and URLs are full of them.
; In: $R8 = " /NAME=". Out: $R9.
Function PresetValue
  Push $R4
  Push $R5
  Push $R6
  Push $R7
  StrCpy $R9 ""
  StrLen $R7 $R8
  StrCpy $R6 0
  find:
    StrCpy $R5 $R0 $R7 $R6
    StrCmp $R5 "" done
    StrCmp $R5 $R8 found
    IntOp $R6 $R6 + 1
    Goto find
  found:
    IntOp $R6 $R6 + $R7
    StrCpy $R9 $R0 "" $R6
    StrCpy $R4 0
  cut:
    StrCpy $R5 $R9 2 $R4
    StrCmp $R5 "" trim
    StrCmp $R5 " /" 0 +3
      StrCpy $R9 $R9 $R4
      Goto trim
    IntOp $R4 $R4 + 1
    Goto cut
  trim:
    StrCpy $R5 $R9 1 -1
    StrCmp $R5 " " 0 +3
      StrCpy $R9 $R9 -1
      Goto trim
    StrCpy $R5 $R9 1
    StrCmp $R5 '"' 0 done
      StrCpy $R9 $R9 "" 1
      StrCpy $R5 $R9 1 -1
      StrCmp $R5 '"' 0 done
        StrCpy $R9 $R9 -1
  done:
  Pop $R7
  Pop $R6
  Pop $R5
  Pop $R4
FunctionEnd

!macro PRESET NAME VAR
  StrCpy $R8 " /${NAME}="
  Call PresetValue
  StrCpy ${VAR} $R9
  ${If} ${VAR} != ""
    StrCpy $Presets 1
  ${EndIf}
!macroend

; One JSON line "  "key": "value"," (value escaped) when the preset was given.
!macro POLICY_STRING KEY VAR
  ${If} ${VAR} != ""
    ${WordReplace} ${VAR} "\" "\\" "+" $1
    ${WordReplace} $1 '"' '\"' "+" $1
    FileWrite $0 '  "${KEY}": "$1",$\r$\n'
  ${EndIf}
!macroend

Function WritePolicy
  FileOpen $0 "$INSTDIR\${POLICY_FILE}" w
  FileWrite $0 "{$\r$\n"
  !insertmacro POLICY_STRING "api_url" $ApiUrl
  !insertmacro POLICY_STRING "auth_url" $AuthUrl
  !insertmacro POLICY_STRING "scope" $Scope
  !insertmacro POLICY_STRING "model" $Model
  !insertmacro POLICY_STRING "port_range" $PortRange
  !insertmacro POLICY_STRING "proxy" $Proxy
  !insertmacro POLICY_STRING "proxy_auth" $ProxyAuth
  !insertmacro POLICY_STRING "multi_user" $MultiUser
  ${If} $Autostart == "0"
    FileWrite $0 '  "autostart": false,$\r$\n'
  ${ElseIf} $Autostart != ""
    FileWrite $0 '  "autostart": true,$\r$\n'
  ${EndIf}
  ${If} $AllUsers == 1
    FileWrite $0 '  "all_users": true,$\r$\n'
  ${EndIf}
  FileWrite $0 '  "installer_version": "${VERSION}"$\r$\n}$\r$\n'
  FileClose $0
FunctionEnd

; /D= as NSIS wants it (last, not quoted, spaces allowed) is already in $INSTDIR. Tools that
; quote every argument with a space (PowerShell, wine, deployment scripts) pass "/D=C:\A B" or
; /D="C:\A B", which NSIS ignores: take the folder from those forms too. In: $R0 (" " + params).
Function QuotedInstallDir
  StrCpy $R8 ' "/D='
  Call PresetValue
  ${If} $R9 != ""
    StrCpy $R7 $R9 1 -1
    ${If} $R7 == '"'
      StrCpy $R9 $R9 -1
    ${EndIf}
  ${Else}
    StrCpy $R8 " /D="
    Call PresetValue ; also strips the quotes of /D="C:\A B"
  ${EndIf}
  ${If} $R9 != ""
    StrCpy $INSTDIR $R9
  ${EndIf}
FunctionEnd

Function .onInit
  ${If} ${RunningX64}
    SetRegView 64 ; HKLM\Software as 64-bit programs see it (no Wow6432Node)
  ${EndIf}
  StrCpy $AllUsers 0
  StrCpy $Presets 0
  ${GetParameters} $R0
  StrCpy $R0 " $R0"
  Call QuotedInstallDir
  ClearErrors
  ${GetOptions} $R0 "/ALLUSERS" $R1
  ${IfNot} ${Errors}
    StrCpy $AllUsers 1
    UserInfo::GetAccountType
    Pop $R1
    ${If} $R1 != "Admin"
      MessageBox MB_OK|MB_ICONSTOP "Установка для всех пользователей (/ALLUSERS) требует прав \
администратора. Запустите установку от имени администратора." /SD IDOK
      SetErrorLevel 740 ; ERROR_ELEVATION_REQUIRED
      Quit
    ${EndIf}
    ; /D= (given) wins; otherwise Program Files
    StrCmp $INSTDIR "$LOCALAPPDATA\Programs\${APP_NAME}" 0 +2
      StrCpy $INSTDIR "$PROGRAMFILES64\${APP_NAME}"
  ${EndIf}
  !insertmacro PRESET "API_URL" $ApiUrl
  !insertmacro PRESET "AUTH_URL" $AuthUrl
  !insertmacro PRESET "SCOPE" $Scope
  !insertmacro PRESET "MODEL" $Model
  !insertmacro PRESET "PORT_RANGE" $PortRange
  !insertmacro PRESET "PROXY" $Proxy
  !insertmacro PRESET "PROXY_AUTH" $ProxyAuth
  !insertmacro PRESET "MULTIUSER" $MultiUser
  !insertmacro PRESET "AUTOSTART" $Autostart
  ${If} $Autostart == "0"
    !insertmacro UnselectSection ${SecAutostart}
  ${EndIf}
FunctionEnd

; --- uninstall --------------------------------------------------------------
Section "un.Программа, ярлыки и автозапуск (обязательно)" UnSecMain
  SectionIn RO
  ${If} ${FileExists} "$INSTDIR\${ALL_USERS_FLAG}"
    SetShellVarContext all
    DeleteRegValue HKLM "${RUN_KEY}" "${APP_NAME}"
  ${Else}
    SetShellVarContext current
  ${EndIf}
  Call un.CloseRunningBridge
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"
  Delete "$DESKTOP\${PRODUCT}.lnk"
  RMDir /r "$SMPROGRAMS\${PRODUCT}"
  DeleteRegKey SHCTX "${UNINST_KEY}"
  DeleteRegValue SHCTX "${APP_KEY}" "InstallDir"
  DeleteRegKey /ifempty SHCTX "${APP_KEY}"
SectionEnd

; Off by default: the key survives a reinstall unless the user asks otherwise.
Section /o "un.Сохранённый ключ авторизации и настройки" UnSecKey
  ; The program removes the key itself: the same keyring code that stored it. Through
  ; nsExec and cmd /c: no window, waited for, the exit code kept (and under wine, where the
  ; tests run a Unix stand-in for the program, the folder is not left locked).
  !ifdef CONSOLE_EXE
    nsExec::Exec '"$SYSDIR\cmd.exe" /c ""$INSTDIR\${CONSOLE_EXE}" --delete-key"'
  !else
    nsExec::Exec '"$SYSDIR\cmd.exe" /c ""$INSTDIR\${APP_EXE}" --delete-key"'
  !endif
  Pop $0
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

Function un.onInit
  ${If} ${RunningX64}
    SetRegView 64
  ${EndIf}
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/DELETEKEY" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${UnSecKey}
  ${EndIf}
FunctionEnd

Section "-un.Files"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\${POLICY_FILE}"
  Delete "$INSTDIR\${ALL_USERS_FLAG}"
  !ifdef CONSOLE_EXE
    Delete "$INSTDIR\${CONSOLE_EXE}"
  !endif
  RMDir /r "$INSTDIR\_internal"
  RMDir /r "$INSTDIR\${ONEC_FOLDER}"
  Delete "$INSTDIR\${UNINSTALLER}"
  SetOutPath "$TEMP" ; a folder that is the current directory cannot be removed
  ; Only if empty: never remove what the user put there. An empty folder can stay locked for
  ; a moment after the program (--delete-key) ends: try again for up to 10 s.
  StrCpy $3 0
  remove_dir:
    RMDir "$INSTDIR"
    ${DirState} "$INSTDIR" $4
    ${If} $4 == 0
    ${AndIf} $3 < 20
      IntOp $3 $3 + 1
      Sleep 500
      Goto remove_dir
    ${EndIf}
SectionEnd
