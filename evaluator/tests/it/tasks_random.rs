//! The CPython `random` vectors of spec §2.3.

use evaluator::random::PyRandom;

fn bits32(r: &mut PyRandom, n: usize) -> Vec<u64> {
    (0..n).map(|_| r.getrandbits(32)).collect()
}

#[test]
fn getrandbits_after_integer_seeds() {
    assert_eq!(
        bits32(&mut PyRandom::new(42), 5),
        [2746317213, 478163327, 107420369, 3184935163, 1181241943]
    );
    assert_eq!(
        bits32(&mut PyRandom::new(1234), 5),
        [4150886329, 3342196574, 1892932127, 501869158, 32175636]
    );
    assert_eq!(
        bits32(&mut PyRandom::new(0), 3),
        [3626764237, 1654615998, 3255389356]
    );
}

#[test]
fn reference_mt19937_init_by_array_vector() {
    let mut r = PyRandom::from_key(&[0x123, 0x234, 0x345, 0x456]);
    let v: Vec<u32> = (0..5).map(|_| r.next_u32()).collect();
    assert_eq!(
        v,
        [1067595299, 955945823, 477289528, 4107218783, 4228976476]
    );
}

#[test]
fn shuffle_vector() {
    let mut x: Vec<u32> = (0..10).collect();
    PyRandom::new(42).shuffle(&mut x);
    assert_eq!(x, [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]);
}

#[test]
fn sample_set_method_vector() {
    let s = PyRandom::new(1234).sample_indices(1119, 25);
    assert_eq!(
        s,
        [
            902, 239, 15, 185, 71, 171, 201, 726, 484, 35, 63, 32, 708, 991, 949, 304, 186, 374,
            234, 29, 1030, 996, 511, 132, 1108
        ]
    );
}

#[test]
fn sample_pool_method_vectors() {
    let pop: Vec<u32> = (0..10).collect();
    assert_eq!(PyRandom::new(1234).sample(&pop, 5), [7, 1, 0, 9, 4]);
    assert_eq!(
        PyRandom::new(1234).sample_indices(30, 6),
        [24, 14, 3, 0, 2, 18]
    );
}

#[test]
fn sample_k_plus_one_extends_sample_k() {
    // Set method: the first k of sample(n, k+1) equal sample(n, k) from the same state.
    let a = PyRandom::new(7).sample_indices(7473, 5);
    let b = PyRandom::new(7).sample_indices(7473, 6);
    assert_eq!(a[..], b[..5]);
}

#[test]
fn getrandbits_wide_and_randbelow() {
    // Wider than 32 bits: least significant word first.
    let mut a = PyRandom::new(42);
    let lo = a.getrandbits(32);
    let hi = a.getrandbits(32);
    assert_eq!(PyRandom::new(42).getrandbits(64), lo | (hi << 32));
    let mut a = PyRandom::new(42);
    let lo = a.getrandbits(32);
    let hi = a.getrandbits(32) >> 27;
    assert_eq!(PyRandom::new(42).getrandbits(37), lo | (hi << 32));
    // randbelow(1) consumes a 1-bit draw and is always 0.
    let mut r = PyRandom::new(3);
    assert!((0..100).all(|_| r.randbelow(1) == 0));
}
