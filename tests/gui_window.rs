//! A real window: runs the `capsim` binary under Xvfb, lets it screenshot itself at t = 3 s and
//! checks the PNG. Skips (and says so) when `xvfb-run` is missing, unless
//! CAPSIM_REQUIRE_DISPLAY=1 makes that a failure.
#![cfg(feature = "gui")]

use std::path::Path;
use std::process::Command;

fn require_display() -> bool {
    std::env::var("CAPSIM_REQUIRE_DISPLAY").is_ok_and(|v| v == "1")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn window_screenshots_itself_under_xvfb() {
    if !have("xvfb-run") {
        assert!(
            !require_display(),
            "xvfb-run not found (CAPSIM_REQUIRE_DISPLAY=1)"
        );
        eprintln!("skipping window_screenshots_itself_under_xvfb: xvfb-run not found");
        return;
    }
    let dir = std::env::temp_dir().join(format!("capsim-window-{}", std::process::id()));
    let runtime = dir.join("xdg");
    std::fs::create_dir_all(&runtime).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let png = dir.join("out.png");
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_capsim"))
        .args(["--scenario", "scenarios/quorum-partition.ron"])
        .args(["--until-ms", "3000", "--screenshot"])
        .arg(&png)
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", &runtime)
        .status()
        .expect("running xvfb-run");
    assert!(status.success(), "capsim exited with {status}");
    check_png(&png, 1280, 800);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The PNG has the window's size and is not one flat colour.
fn check_png(path: &Path, width: u32, height: u32) {
    let img = image::open(path).expect("a readable PNG").to_rgb8();
    assert_eq!((img.width(), img.height()), (width, height));
    let first = *img.get_pixel(0, 0);
    let differing = img.pixels().filter(|p| **p != first).count();
    assert!(
        differing > (width * height / 20) as usize,
        "the screenshot looks blank ({differing} pixels differ from the corner)"
    );
    // Something bright (text, nodes) on the dark background.
    let bright = img
        .pixels()
        .filter(|p| p.0.iter().all(|c| *c > 200))
        .count();
    assert!(bright > 500, "no text or nodes visible");
}
