//! The gRPC codec of the generated services and clients: prost's, except that a message
//! large enough to take long to decode (a request of megabytes: 150 ms in a debug build) is
//! decoded inside [`tokio::task::block_in_place`], so that on a multi-threaded runtime the
//! worker's other tasks (health checks, other calls) move to another thread meanwhile. (The
//! servers' answers are encoded on the request pool beforehand: `spacejobs_server::preencoded`.)

use prost::Message;
use std::marker::PhantomData;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstDecoder, ProstEncoder};

/// Messages from this many bytes are decoded off the async workers' turn.
pub const LARGE: usize = 256 * 1024;

/// Runs `work` where it may block: in `block_in_place` on a multi-threaded runtime, else
/// right here.
fn blocking<R>(work: impl FnOnce() -> R) -> R {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// The codec: `T` encoded, `U` decoded.
#[derive(Debug, Clone)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = LargeAware<ProstDecoder<U>>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        LargeAware(ProstDecoder::default())
    }
}

/// prost's decoder, large messages decoded where they may block.
#[derive(Debug, Clone)]
pub struct LargeAware<C>(C);

impl<U: Message + Default> Decoder for LargeAware<ProstDecoder<U>> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        if bytes::Buf::remaining(buf) >= LARGE {
            blocking(|| self.0.decode(buf))
        } else {
            self.0.decode(buf)
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
