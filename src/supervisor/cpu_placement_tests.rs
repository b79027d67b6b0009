use super::*;

/// `nodes` NUMA nodes of `cores` cores with `threads` SMT threads each,
/// numbered as Linux numbers them (siblings `cores * nodes` apart).
fn host(nodes: u32, cores: u32, threads: u32) -> Vec<Cpu> {
    let per_thread = nodes * cores;
    let mut cpus = Vec::new();
    for t in 0..threads {
        for n in 0..nodes {
            for c in 0..cores {
                cpus.push(Cpu {
                    id: t * per_thread + n * cores + c,
                    core: (n, c),
                    node: n,
                });
            }
        }
    }
    cpus
}

fn set(ids: &[u32]) -> BTreeSet<u32> {
    ids.iter().copied().collect()
}

#[test]
fn replicas_get_separate_cpus_while_there_are_free_ones() {
    let cpus = host(1, 2, 1);
    let first = place(&cpus, &[], 1).unwrap();
    assert_eq!(first, set(&[0]));
    let second = place(&cpus, std::slice::from_ref(&first), 1).unwrap();
    assert_eq!(second, set(&[1]));
    // All taken: the least loaded again (spread, not exclusive).
    let third = place(&cpus, &[first, second.clone(), second], 1).unwrap();
    assert_eq!(third, set(&[0]));
}

#[test]
fn one_replicas_cpus_spread_over_nodes_and_cores_before_siblings() {
    // 2 nodes x 2 cores x 2 threads: cpu 0 and 4 are one core's siblings.
    let cpus = host(2, 2, 2);
    let two = place(&cpus, &[], 2).unwrap();
    assert_eq!(two, set(&[0, 2]), "one per node");
    let four = place(&cpus, &[], 4).unwrap();
    assert_eq!(four, set(&[0, 1, 2, 3]), "one per core before siblings");
    let next = place(&cpus, &[four], 2).unwrap();
    assert_eq!(next, set(&[4, 6]), "the siblings left, one per node");
}

#[test]
fn asking_for_more_cpus_than_allowed_names_the_key_and_the_cpus() {
    let cpus = host(1, 2, 1);
    let e = place(&cpus, &[], 3).unwrap_err().to_string();
    assert!(
        e.contains("x-rcorch-cpu-placement") && e.contains("3 whole CPUs"),
        "{e}"
    );
    assert!(e.contains("(0-1)"), "{e}");
}

#[test]
fn cpuset_lists_parse_and_fold() {
    assert_eq!(parse_list("0-2,5,7-8\n"), set(&[0, 1, 2, 5, 7, 8]));
    assert_eq!(parse_list(""), set(&[]));
    assert_eq!(format_list(&set(&[0, 1, 2, 5, 7, 8])), "0-2,5,7-8");
    assert_eq!(format_list(&set(&[3])), "3");
}

#[test]
fn only_whole_cpus_are_placed() {
    assert_eq!(whole_cpus(Some(2.0), None), Some(2));
    assert_eq!(whole_cpus(None, Some(1.0)), Some(1));
    assert_eq!(
        whole_cpus(Some(0.5), Some(2.0)),
        None,
        "the reservation decides"
    );
    assert_eq!(whole_cpus(Some(1.5), None), None);
    assert_eq!(whole_cpus(None, None), None);
}
