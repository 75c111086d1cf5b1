/*
 * TEST ONLY. Never shipped, never installed on a user's machine.
 *
 * Rust's standard library on Windows takes its random bytes from ProcessPrng in
 * bcryptprimitives.dll (present on Windows 10 and later). Debian 12's wine 8 has no
 * bcryptprimitives.dll, so hjemmekontor.exe does not even start under it. The CI smoke test
 * (installer/dev/wine/smoke.sh) builds this file into a bcryptprimitives.dll, puts it next to
 * the .exe in a scratch directory, and runs the client under wine there. Release builds and
 * installers never contain it: real Windows has the real DLL.
 *
 * ProcessPrng fills the buffer from advapi32's SystemFunction036 (RtlGenRandom), which wine
 * implements on top of the host's random source.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* SystemFunction036 takes a ULONG length: fill larger buffers in pieces. */
    while (length > 0) {
        ULONG piece = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, piece))
            return FALSE;
        data += piece;
        length -= piece;
    }
    return TRUE;
}
