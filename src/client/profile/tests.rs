use super::*;
use crate::cert::testutil::Builder;

fn ca_pem() -> String {
    Builder::person().cn("Kommune Gateway CA").ca().build().pem
}

fn profile(ca: &str) -> Profile {
    Profile {
        format: FORMAT,
        name: "Hjemmekontor Eksempel kommune".into(),
        gateway: "gw.kommune.example:443".into(),
        expect_address: Some("10.20.30.40".parse().unwrap()),
        required_ports: vec![443, 8041],
        gateway_ca: ca.into(),
    }
}

#[test]
fn a_rendered_profile_reads_back_with_its_checksum_last() {
    let p = profile(&ca_pem());
    let text = render(&p).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("# sha256: "), "{text}");
    let back = parse(text.as_bytes()).unwrap();
    assert_eq!(back.name, p.name);
    assert_eq!(back.gateway, p.gateway);
    assert_eq!(back.expect_address, p.expect_address);
    assert_eq!(back.required_ports, p.required_ports);
    assert_eq!(
        crate::cert::certificates_from_bytes(back.gateway_ca.as_bytes()).unwrap(),
        crate::cert::certificates_from_bytes(p.gateway_ca.as_bytes()).unwrap()
    );
    assert_eq!(ca_fingerprint(&back).unwrap().len(), 32 * 3 - 1);
}

#[test]
fn a_windows_editor_saving_it_again_with_crlf_changes_nothing() {
    let text = render(&profile(&ca_pem())).unwrap().replace('\n', "\r\n");
    assert_eq!(
        parse(text.as_bytes()).unwrap().name,
        "Hjemmekontor Eksempel kommune"
    );
}

#[test]
fn a_changed_byte_or_a_cut_file_is_refused_as_a_whole() {
    let text = render(&profile(&ca_pem())).unwrap();
    let changed = text.replace("gw.kommune.example", "gw.angriper.example");
    assert_eq!(parse(changed.as_bytes()), Err(ProfileError::Altered));
    let cut = &text[..text.len() / 2];
    assert_eq!(parse(cut.as_bytes()), Err(ProfileError::NoChecksum));
    let without = text.rsplit_once(CHECKSUM_PREFIX).unwrap().0;
    assert_eq!(parse(without.as_bytes()), Err(ProfileError::NoChecksum));
    assert_eq!(parse(&[0xff, 0xfe, 0x00]), Err(ProfileError::NotText));
    assert_eq!(
        parse(&vec![b'#'; MAX_BYTES + 1]),
        Err(ProfileError::TooLarge { limit: MAX_BYTES })
    );
}

/// Signs a body the way `render` does, so that the values inside can be wrong.
fn signed(body: &str) -> String {
    format!("{body}{CHECKSUM_PREFIX}{}\n", sha256_hex(body.as_bytes()))
}

#[test]
fn wrong_values_are_named_without_echoing_the_file() {
    let ca = pem_blocks(&ca_pem());
    let base = |extra: &str, gateway: &str| {
        signed(&format!(
            "format = 1\nname = \"Tjeneste\"\ngateway = \"{gateway}\"\n{extra}gateway_ca = \"\"\"\n{ca}\"\"\"\n"
        ))
    };
    assert!(parse(base("", "gw.example:443").as_bytes()).is_ok());
    assert_eq!(
        parse(base("", "gw.example").as_bytes()),
        Err(ProfileError::Gateway {
            value: "gw.example".into()
        })
    );
    assert_eq!(
        parse(base("", "gw.example:0").as_bytes()),
        Err(ProfileError::Gateway {
            value: "gw.example:0".into()
        })
    );
    assert_eq!(
        parse(base("required_ports = [0]\n", "gw:1").as_bytes()),
        Err(ProfileError::Port)
    );
    match parse(base("password = \"hemmelig\"\n", "gw:1").as_bytes()) {
        Err(ProfileError::Syntax { line, message }) => {
            assert_eq!(line, 4);
            assert!(!message.contains("hemmelig"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let future = base("", "gw:1").replace("format = 1", "format = 2");
    let future = signed(future.rsplit_once(CHECKSUM_PREFIX).unwrap().0);
    assert_eq!(
        parse(future.as_bytes()),
        Err(ProfileError::Format { found: 2 })
    );
}

#[test]
fn the_ca_must_be_pem_of_a_certificate_authority() {
    let leaf = Builder::person().build().pem;
    let mut p = profile(&leaf);
    assert!(
        matches!(render(&p), Err(ProfileError::Ca { detail }) if detail.contains("not a certificate authority"))
    );
    p.gateway_ca = "not a certificate".into();
    assert!(matches!(render(&p), Err(ProfileError::Ca { .. })));
    p.gateway_ca = ca_pem();
    p.name = "  ".into();
    assert_eq!(render(&p), Err(ProfileError::Name));
}

#[test]
fn import_writes_the_ca_beside_the_settings_and_keeps_the_username() {
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("conf/client.toml");
    settings::save(
        &settings_path,
        &ClientSettings {
            gateway: Some("gammel.example:443".into()),
            username: Some("kari".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let profile_path = dir.path().join("kommune.hjemmekontor");
    let ca = ca_pem();
    std::fs::write(&profile_path, render(&profile(&ca)).unwrap()).unwrap();

    let imported = import(&profile_path, &settings_path).unwrap();
    assert_eq!(
        imported.replaced_gateway.as_deref(),
        Some("gammel.example:443")
    );
    assert_eq!(imported.ca_path, dir.path().join("conf").join(CA_FILE_NAME));
    let on_disk = settings::load(&settings_path).unwrap();
    assert_eq!(on_disk, imported.settings);
    assert_eq!(on_disk.username.as_deref(), Some("kari"));
    assert_eq!(on_disk.gateway.as_deref(), Some("gw.kommune.example:443"));
    assert_eq!(
        on_disk.gateway_ca.as_deref(),
        Some(imported.ca_path.as_path())
    );
    assert_eq!(
        on_disk.service_name.as_deref(),
        Some("Hjemmekontor Eksempel kommune")
    );
    assert_eq!(on_disk.required_ports, [443, 8041]);
    assert_eq!(
        std::fs::read_to_string(&imported.ca_path).unwrap(),
        pem_blocks(&ca)
    );

    // The same profile again replaces nothing.
    assert_eq!(
        import(&profile_path, &settings_path)
            .unwrap()
            .replaced_gateway,
        None
    );
}

#[test]
fn a_refused_profile_leaves_the_settings_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("client.toml");
    let before = ClientSettings {
        gateway: Some("gw.example:443".into()),
        ..Default::default()
    };
    settings::save(&settings_path, &before).unwrap();
    let profile_path = dir.path().join("p.hjemmekontor");
    let text = render(&profile(&ca_pem())).unwrap().replace("8041", "8042");
    std::fs::write(&profile_path, text).unwrap();
    assert!(matches!(
        import(&profile_path, &settings_path),
        Err(ImportError::Profile {
            source: ProfileError::Altered,
            ..
        })
    ));
    assert!(matches!(
        import(&dir.path().join("missing"), &settings_path),
        Err(ImportError::Read { .. })
    ));
    assert_eq!(settings::load(&settings_path).unwrap(), before);
    assert!(!dir.path().join(CA_FILE_NAME).exists());
}
