//! MMU (being written).
pub struct Mmu {}
impl Mmu {
    pub fn new() -> Mmu {
        Mmu {}
    }
    pub fn flush_all(&mut self) {}
}
