use super::*;

#[test]
fn labels_name_the_stage_as_buildkit_does() {
    assert_eq!(step_label((0, Some("app")), 1, (1, 2)), "[1/2]");
    assert_eq!(step_label((0, Some("build")), 2, (2, 4)), "[build 2/4]");
    assert_eq!(step_label((1, None), 2, (3, 5)), "[stage-1 3/5]");
    assert_eq!(step_label((1, None), 2, (3, 12)), "[stage-1  3/12]");
}

#[test]
fn auto_is_the_live_view_only_on_a_terminal_that_can_draw() {
    assert_eq!(
        choose_mode("auto", None, true, Some("xterm")),
        Ok(Mode::Tty)
    );
    assert_eq!(choose_mode("auto", None, true, None), Ok(Mode::Tty));
    assert_eq!(
        choose_mode("auto", None, false, Some("xterm")),
        Ok(Mode::Plain)
    );
    assert_eq!(
        choose_mode("auto", None, true, Some("dumb")),
        Ok(Mode::Plain)
    );
    assert_eq!(choose_mode("plain", None, true, None), Ok(Mode::Plain));
    assert_eq!(choose_mode("quiet", None, true, None), Ok(Mode::Quiet));
    assert_eq!(choose_mode("tty", None, true, Some("dumb")), Ok(Mode::Tty));
    let e = choose_mode("tty", None, false, None).unwrap_err();
    assert!(e.contains("not a terminal"), "{e}");
    let e = choose_mode("fancy", None, true, None).unwrap_err();
    assert!(e.contains("\"fancy\"") && e.contains("plain"), "{e}");
}

#[test]
fn buildkit_progress_in_the_environment_stands_for_auto_only() {
    assert_eq!(
        choose_mode("auto", Some("plain"), true, None),
        Ok(Mode::Plain)
    );
    assert_eq!(choose_mode("auto", Some(""), true, None), Ok(Mode::Tty));
    assert_eq!(choose_mode("tty", Some("plain"), true, None), Ok(Mode::Tty));
    assert!(choose_mode("auto", Some("bogus"), true, None).is_err());
}

fn sample() -> View {
    let mut v = View::default();
    v.start("[1/3] FROM busybox", 0.0);
    v.start("[2/3] RUN echo hi", 0.1);
    v.cached();
    v.start("[3/3] RUN make", 0.2);
    v.output("compiling a.c");
    v.output("compiling b.c");
    v
}

#[test]
fn a_running_frame_has_the_header_each_step_and_the_running_steps_tail() {
    let frame = render(&sample(), 1.3, (60, 40), None);
    assert_eq!(frame[0], "[+] Building 1.3s (2/3)");
    assert_eq!(frame.len(), 6, "{frame:#?}");
    assert!(
        frame[1].starts_with(" => [1/3] FROM busybox "),
        "{}",
        frame[1]
    );
    assert!(frame[1].ends_with(" 0.1s"), "{}", frame[1]);
    assert!(
        frame[2].starts_with(" => CACHED [2/3] RUN echo hi"),
        "{}",
        frame[2]
    );
    assert!(frame[2].ends_with(" 0.0s"), "{}", frame[2]);
    // The running step's time is how long it has run so far.
    assert!(frame[3].ends_with(" 1.1s"), "{}", frame[3]);
    assert_eq!(frame[4], " => => # compiling a.c");
    assert_eq!(frame[5], " => => # compiling b.c");
    for line in &frame[1..4] {
        assert_eq!(line.chars().count(), 59, "{line:?}");
    }
}

#[test]
fn the_last_frame_has_every_row_and_no_tail() {
    let mut v = sample();
    v.done(2.0);
    let frame = render(&v, 2.0, (60, 3), Some(true));
    assert_eq!(frame[0], "[+] Building 2.0s (3/3) FINISHED");
    assert_eq!(frame.len(), 4);
    assert!(frame[3].ends_with(" 1.8s"), "{}", frame[3]);
    let mut v = sample();
    v.failed(3.0);
    let frame = render(&v, 3.0, (60, 40), Some(false));
    assert_eq!(frame[0], "[+] Building 3.0s (3/3) ERROR");
    assert!(
        frame[3].starts_with(" => ERROR [3/3] RUN make"),
        "{}",
        frame[3]
    );
}

#[test]
fn the_tail_keeps_the_last_lines_cleaned_and_a_new_step_drops_it() {
    let mut v = sample();
    for n in 0..10 {
        v.output(&format!("line {n}\x1b[2K\t"));
    }
    assert_eq!(v.tail.len(), TAIL_LINES);
    assert_eq!(v.tail[0], "line 4");
    assert!(v.tail.iter().all(|l| !l.contains('\x1b')));
    v.start("[4/4] COPY . /", 5.0);
    assert!(v.tail.is_empty());
    assert!(
        matches!(v.rows[2].state, RowState::Done { secs } if (secs - 4.8).abs() < 1e-9),
        "{:?}",
        v.rows[2]
    );
}

#[test]
fn a_short_terminal_shows_the_newest_rows_and_narrow_lines_are_clipped() {
    let mut v = View::default();
    for n in 0..30 {
        v.start(
            &format!("[{n}/30] RUN step {n} with a rather long command line"),
            n as f64,
        );
    }
    v.output("out");
    let frame = render(&v, 30.0, (40, 10), None);
    assert_eq!(frame.len(), 9, "{frame:#?}");
    assert!(frame[7].contains("[29/30]"), "{frame:#?}");
    assert!(frame.iter().all(|l| l.chars().count() <= 39), "{frame:#?}");
    assert!(frame[7].ends_with(" 1.0s"), "{}", frame[7]);
}

#[test]
fn steps_always_redraw_output_and_ticks_are_spaced_out() {
    let ms = |n| Some(Duration::from_millis(n));
    for why in [Redraw::Step, Redraw::Output, Redraw::Tick] {
        assert!(redraw_due(why, None), "{why:?}: the first frame");
    }
    assert!(redraw_due(Redraw::Step, ms(0)));
    assert!(!redraw_due(Redraw::Output, ms(49)));
    assert!(redraw_due(Redraw::Output, ms(50)));
    // A writer ticking per chunk: no frame until 200 ms have passed.
    assert!(!redraw_due(Redraw::Tick, ms(50)));
    assert!(!redraw_due(Redraw::Tick, ms(199)));
    assert!(redraw_due(Redraw::Tick, ms(200)));
    // The monitor's 250 ms ticks each draw, even a little early.
    assert!(redraw_due(Redraw::Tick, ms(240)));
}
