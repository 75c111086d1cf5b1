//! Starting the remote desktop (`client/launch.rs`): why it could not start, what to do, and
//! how it ended.

use super::Msg;

catalogue! {
    NO_DISPLAY = "launch.no-display" {
        nb: "Fant ingen skjerm å vise fjernskrivebordet på (verken X11 eller Wayland).",
        en: "Found no screen to show the remote desktop on (neither X11 nor Wayland)." }
    NO_CLIENT = "launch.no-client" {
        nb: "Fant ikke noe fjernskrivebordsprogram (så etter {tried}).",
        en: "Found no remote-desktop program (looked for {tried})." }
    FILE = "launch.file" {
        nb: "Kunne ikke skrive {path}: {error}.",
        en: "Could not write {path}: {error}." }
    SPAWN = "launch.spawn" {
        nb: "Kunne ikke starte {program}: {error}.",
        en: "Could not start {program}: {error}." }
    NO_DISPLAY_FIX = "launch.no-display-fix" {
        nb: "Start hjemmekontor fra skrivebordet, eller koble et fjernskrivebordsprogram til {addr} selv.",
        en: "Start hjemmekontor from the desktop, or connect a remote-desktop program to {addr} yourself." }
    NO_CLIENT_FIX = "launch.no-client-fix" {
        nb: "Installer FreeRDP (for eksempel «sudo apt install freerdp3-sdl» eller «sudo apt install freerdp2-x11»), eller koble et fjernskrivebordsprogram til {addr} selv.",
        en: "Install FreeRDP (for example “sudo apt install freerdp3-sdl” or “sudo apt install freerdp2-x11”), or connect a remote-desktop program to {addr} yourself." }
    FILE_FIX = "launch.file-fix" {
        nb: "Sjekk at det er plass og skrivetilgang i den midlertidige mappen, eller koble fjernskrivebordet til {addr} selv.",
        en: "Check that there is room and write access in the temporary folder, or connect the remote desktop to {addr} yourself." }
    SPAWN_FIX = "launch.spawn-fix" {
        nb: "Start fjernskrivebordet selv og koble det til {addr}.",
        en: "Start the remote desktop yourself and connect it to {addr}." }
    EXITED_WITH = "launch.exited-with" {
        nb: "Fjernskrivebordet ble avsluttet (kode {code}).",
        en: "The remote desktop ended (code {code})." }
    EXITED = "launch.exited" {
        nb: "Fjernskrivebordet ble avsluttet.",
        en: "The remote desktop ended." }
    WROTE_LOG = "launch.wrote-log" {
        nb: "{how} Det skrev dette i {log}.",
        en: "{how} What it wrote is in {log}." }
}
