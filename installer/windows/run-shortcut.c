/*
 * TEST ONLY. Never shipped, never installed on a user's machine.
 *
 * Runs a Windows shortcut (.lnk) the way the Start menu would, but in the caller's console:
 * reads the shortcut's target, arguments and working folder through the shell's IShellLink,
 * prints them, starts the target with exactly that command line, waits, and exits with the
 * target's exit code. installer/windows/check-msi.sh uses it under wine, where the shell
 * cannot open a shortcut without a display, to check that the installer's Start-menu entries
 * really start hjemmekontor.exe (cmd.exe's quoting included).
 *
 *   run-shortcut.exe 'C:\path\to\Shortcut.lnk'
 */
#define COBJMACROS
#include <windows.h>
#include <shlobj.h>
#include <shobjidl.h>
#include <stdio.h>
#include <wchar.h>

static int fail(const char *what, HRESULT hr)
{
    fprintf(stderr, "run-shortcut: %s failed (0x%08lx)\n", what, (unsigned long)hr);
    return 127;
}

int wmain(int argc, wchar_t **argv)
{
    IShellLinkW *link = NULL;
    IPersistFile *file = NULL;
    wchar_t target[MAX_PATH], args[INFOTIPSIZE], dir[MAX_PATH];
    static wchar_t cmdline[MAX_PATH + INFOTIPSIZE + 4];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD code = 127;
    HRESULT hr;

    if (argc != 2) {
        fprintf(stderr, "usage: run-shortcut.exe PATH.lnk\n");
        return 2;
    }
    if (FAILED(hr = CoInitialize(NULL)))
        return fail("CoInitialize", hr);
    if (FAILED(hr = CoCreateInstance(&CLSID_ShellLink, NULL, CLSCTX_INPROC_SERVER,
                                     &IID_IShellLinkW, (void **)&link)))
        return fail("creating a ShellLink", hr);
    if (FAILED(hr = IShellLinkW_QueryInterface(link, &IID_IPersistFile, (void **)&file)))
        return fail("IPersistFile", hr);
    if (FAILED(hr = IPersistFile_Load(file, argv[1], STGM_READ)))
        return fail("loading the shortcut", hr);
    if (FAILED(hr = IShellLinkW_GetPath(link, target, MAX_PATH, NULL, SLGP_RAWPATH)))
        return fail("reading the target", hr);
    if (FAILED(hr = IShellLinkW_GetArguments(link, args, INFOTIPSIZE)))
        return fail("reading the arguments", hr);
    if (FAILED(hr = IShellLinkW_GetWorkingDirectory(link, dir, MAX_PATH)))
        return fail("reading the working folder", hr);

    printf("target: %ls\narguments: %ls\nworking folder: %ls\n", target, args,
           dir[0] ? dir : L"(none)");
    fflush(stdout);

    _snwprintf(cmdline, sizeof cmdline / sizeof cmdline[0] - 1, L"\"%ls\" %ls", target, args);
    ZeroMemory(&si, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    if (!CreateProcessW(target, cmdline, NULL, NULL, TRUE, 0, NULL, dir[0] ? dir : NULL, &si,
                        &pi))
        return fail("starting the target", HRESULT_FROM_WIN32(GetLastError()));
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    IPersistFile_Release(file);
    IShellLinkW_Release(link);
    CoUninitialize();
    return (int)code;
}
