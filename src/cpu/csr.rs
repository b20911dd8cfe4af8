//! CSRs (being written).
pub struct Csrs {
    pub mstatus: u64,
}
impl Csrs {
    pub fn new(_id: usize) -> Csrs {
        Csrs { mstatus: 0 }
    }
}
