//! A bounded walker over Thrift's compact protocol, the encoding of Parquet's
//! footer and page headers. It allocates nothing: it checks that every
//! length and element count fits in the bytes that remain, that nesting stays
//! shallow, and hands the caller the fields it asks for. The parquet crate's
//! own decoder sizes vectors from the counts it reads before reading the
//! elements (`Vec::with_capacity(count)`), so a corrupt count would make it
//! allocate gigabytes, or abort; after this walk every count is at most the
//! number of bytes left.

/// Deepest nesting of structs and lists accepted.
const MAX_DEPTH: u32 = 32;

/// Compact-protocol type codes.
pub const BOOL_TRUE: u8 = 1;
pub const BOOL_FALSE: u8 = 2;
pub const I32: u8 = 5;
pub const I64: u8 = 6;
pub const LIST: u8 = 9;
pub const STRUCT: u8 = 12;

pub struct Compact<'a> {
    buf: &'a [u8],
    pub pos: usize,
    depth: u32,
}

pub type Result<T> = std::result::Result<T, String>;

impl<'a> Compact<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Compact {
            buf,
            pos: 0,
            depth: 0,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| format!("ends early at byte {}", self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn advance(&mut self, n: u64) -> Result<()> {
        if n > self.remaining() as u64 {
            return Err(format!(
                "a length of {n} bytes at byte {} runs past the end ({} bytes left)",
                self.pos,
                self.remaining()
            ));
        }
        self.pos += n as usize;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(format!("varint overflows 64 bits at byte {}", self.pos));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at byte {}", self.pos))
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// Reads an i32 value (type [`I32`]), checking its range.
    pub fn i32(&mut self) -> Result<i32> {
        let v = self.zigzag()?;
        i32::try_from(v).map_err(|_| format!("{v} does not fit an i32"))
    }

    /// Reads an i64 value (type [`I64`]).
    pub fn i64(&mut self) -> Result<i64> {
        self.zigzag()
    }

    /// Reads a list header: element type and count (count ≤ bytes left).
    pub fn list_header(&mut self) -> Result<(u8, u64)> {
        let h = self.byte()?;
        let ty = h & 0x0f;
        let mut n = u64::from(h >> 4);
        if n == 15 {
            n = self.varint()?;
        }
        if n > self.remaining() as u64 {
            return Err(format!(
                "a list of {n} elements at byte {} cannot fit in the {} bytes left",
                self.pos,
                self.remaining()
            ));
        }
        Ok((ty, n))
    }

    /// Skips one value of compact type `ty` (in a struct field).
    pub fn skip(&mut self, ty: u8) -> Result<()> {
        match ty {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            3 => self.byte().map(drop),
            4..=6 => self.varint().map(drop),
            7 => self.advance(8),
            8 => {
                let n = self.varint()?;
                self.advance(n)
            }
            9 | 10 => {
                let (ety, n) = self.list_header()?;
                self.nested(|c| {
                    for _ in 0..n {
                        c.skip_element(ety)?;
                    }
                    Ok(())
                })
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n.saturating_mul(2) > self.remaining() as u64 {
                    return Err(format!(
                        "a map of {n} entries cannot fit at byte {}",
                        self.pos
                    ));
                }
                let kv = self.byte()?;
                self.nested(|c| {
                    for _ in 0..n {
                        c.skip_element(kv >> 4)?;
                        c.skip_element(kv & 0x0f)?;
                    }
                    Ok(())
                })
            }
            STRUCT => self.nested(|c| c.fields(&mut |_, _, _| Ok(false))),
            other => Err(format!("unknown Thrift type {other} at byte {}", self.pos)),
        }
    }

    /// Skips one list element of type `ty` (booleans take a byte in lists).
    pub fn skip_element(&mut self, ty: u8) -> Result<()> {
        match ty {
            BOOL_TRUE | BOOL_FALSE => self.byte().map(drop),
            ty => self.skip(ty),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Walks the fields of a struct up to its stop byte. `f(walker, field
    /// id, type)` reads the value and returns true, or returns false to have
    /// it skipped.
    pub fn fields(&mut self, f: &mut dyn FnMut(&mut Self, i16, u8) -> Result<bool>) -> Result<()> {
        let mut last: i16 = 0;
        loop {
            let h = self.byte()?;
            let ty = h & 0x0f;
            if ty == 0 {
                return Ok(());
            }
            let delta = h >> 4;
            let id = if delta != 0 {
                last.checked_add(i16::from(delta))
                    .ok_or_else(|| "field id overflows".to_string())?
            } else {
                let v = self.zigzag()?;
                i16::try_from(v).map_err(|_| format!("field id {v} out of range"))?
            };
            last = id;
            if !f(self, id, ty)? {
                self.skip(ty)?;
            }
        }
    }

    /// Walks a struct nested in a field (depth-checked).
    pub fn nested_fields(
        &mut self,
        f: &mut dyn FnMut(&mut Self, i16, u8) -> Result<bool>,
    ) -> Result<()> {
        self.nested(|c| c.fields(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_larger_than_the_input_are_refused() {
        // struct { 1: list<i32> with a count of 2^31 } in 7 bytes.
        let bytes = [0x19, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x08];
        let e = Compact::new(&bytes).skip(STRUCT).unwrap_err();
        assert!(e.contains("cannot fit"), "{e}");
        // A binary field claiming 1 GB.
        let bytes = [0x18, 0x80, 0x80, 0x80, 0x80, 0x04];
        assert!(Compact::new(&bytes).skip(STRUCT).is_err());
        // Deep nesting.
        let deep = vec![0x1c; 100];
        assert!(Compact::new(&deep)
            .skip(STRUCT)
            .unwrap_err()
            .contains("nested"));
    }

    #[test]
    fn fields_are_found() {
        // struct { 1: i32 = -3, 2: i64 = 300, stop }
        let bytes = [0x15, 0x05, 0x16, 0xd8, 0x04, 0x00];
        let (mut a, mut b) = (0, 0);
        Compact::new(&bytes)
            .fields(&mut |c, id, ty| match (id, ty) {
                (1, I32) => {
                    a = c.i32()?;
                    Ok(true)
                }
                (2, I64) => {
                    b = c.i64()?;
                    Ok(true)
                }
                _ => Ok(false),
            })
            .unwrap();
        assert_eq!((a, b), (-3, 300));
    }
}
