//! Tool installation from the real registries (npm, PyPI): once, under a lock, then offline.

use std::time::Instant;

use devnet::{CompiledContracts, Devtools};

#[test]
fn concurrent_installs_into_a_fresh_folder_install_once_and_then_nothing() {
    let root = std::env::temp_dir().join(format!("devnet-tools-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let devtools = Devtools::at(&root);
    let installers: Vec<_> = (0..3)
        .map(|_| {
            let devtools = devtools.clone();
            std::thread::spawn(move || devtools.install())
        })
        .collect();
    let reports: Vec<_> =
        installers.into_iter().map(|installer| installer.join().unwrap().unwrap()).collect();
    assert_eq!(reports.iter().filter(|report| report.anvil_installed).count(), 1);
    assert_eq!(reports.iter().filter(|report| report.contracts_installed).count(), 1);

    assert!(devtools.anvil_path().unwrap().is_file());
    CompiledContracts::load(&devtools.contracts_json_path()).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let again = Instant::now();
    let report = devtools.install().unwrap();
    assert!(!report.anvil_installed && !report.contracts_installed);
    assert!(again.elapsed().as_millis() < 1000, "a repeated install took {:?}", again.elapsed());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_default_tool_folder_is_ignored_by_git_in_the_workspace_root() {
    let gitignore = std::fs::read_to_string(devnet::tools::workspace_root().join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|line| line.trim() == "/.devtools"));
}
