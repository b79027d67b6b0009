//! The live build view on a terminal: `progress::render`'s frame redrawn
//! in place on stderr when a step starts or ends, when the running step
//! prints, and on ticks while it works silently (so its clock moves): the
//! RUN monitor's, the COPY child's waiting parent's, and those of file
//! and network work (hashing sources, an ADD URL download, writing and
//! storing a layer: `util::ticked`).
//! No thread of its own: a thread running beside the fork of a RUN step's
//! container (or of a COPY's child) could hold the allocator's lock in the
//! child.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::progress::{redraw_due, render, Redraw, View};

#[derive(Clone)]
pub struct Live {
    screen: Arc<Mutex<Screen>>,
}

struct Screen {
    view: View,
    start: Instant,
    /// Lines of the last frame, to move back over.
    drawn: usize,
    last_draw: Option<Instant>,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            screen: Arc::new(Mutex::new(Screen {
                view: View::default(),
                start: Instant::now(),
                drawn: 0,
                last_draw: None,
            })),
        }
    }
}

impl Live {
    pub fn start(&self, name: &str) {
        self.change(|v, now| v.start(name, now), Redraw::Step);
    }

    pub fn cached(&self) {
        self.change(|v, _| v.cached(), Redraw::Step);
    }

    pub fn done(&self) {
        self.change(|v, now| v.done(now), Redraw::Step);
    }

    /// A note about the running step (a pull, a download): shown in its tail.
    pub fn note(&self, text: &str) {
        self.change(|v, _| v.output(text), Redraw::Step);
    }

    /// The running step still works: its clock is redrawn when due. Cheap
    /// enough to call as often as the work likes.
    pub fn tick(&self) {
        self.change(|_, _| {}, Redraw::Tick);
    }

    /// `tick` on `live` if there is one: what file work calls.
    pub fn ticker(live: Option<&Live>) -> impl Fn() + '_ {
        move || live.iter().for_each(|l| l.tick())
    }

    /// Where a RUN step's output goes: its lines into the tail, ticks
    /// redrawing the clock.
    pub fn sink(&self) -> crate::runtime::echo::OnLine {
        let live = self.clone();
        Arc::new(move |line: Option<&str>| match line {
            Some(line) => live.change(|v, _| v.output(line), Redraw::Output),
            None => live.tick(),
        })
    }

    /// The last frame: every step, FINISHED or ERROR.
    pub fn finish(&self, ok: bool) {
        let mut s = self.screen.lock().unwrap_or_else(|e| e.into_inner());
        let now = s.start.elapsed().as_secs_f64();
        if ok {
            s.view.done(now);
        } else {
            s.view.failed(now);
        }
        draw(&mut s, Some(ok));
    }

    fn change(&self, f: impl FnOnce(&mut View, f64), why: Redraw) {
        let mut s = self.screen.lock().unwrap_or_else(|e| e.into_inner());
        let now = s.start.elapsed().as_secs_f64();
        f(&mut s.view, now);
        if redraw_due(why, s.last_draw.map(|t| t.elapsed())) {
            draw(&mut s, None);
        }
    }
}

fn draw(s: &mut Screen, finished: Option<bool>) {
    let now = s.start.elapsed().as_secs_f64();
    let frame = render(
        &s.view,
        now,
        crate::util::term::size_of(libc::STDERR_FILENO),
        finished,
    );
    let mut text = String::new();
    if s.drawn > 0 {
        // Back to the first line of the last frame, then clear below.
        text.push_str(&format!("\x1b[{}F", s.drawn));
    }
    text.push_str("\x1b[J");
    for line in &frame {
        text.push_str(line);
        text.push('\n');
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
    s.drawn = frame.len();
    s.last_draw = Some(Instant::now());
}
