//! What several use cases share: finding the rows a request names, turning
//! text into embeddings, forming a memory, recall, keeping the vector index
//! in step, and the job queue.

mod embedder;
mod job_queue;
mod listing;
mod lookup;
mod memory_writer;
mod recall;
mod vector_sync;

pub use embedder::Embedder;
pub use job_queue::JobQueue;
pub use listing::{all_messages, all_sessions};
pub use lookup::{require_character, require_place, require_session};
pub use memory_writer::{MemoryDraft, MemoryWriter};
pub use recall::{Recall, RecallQuery, ScoredMemory, SearchOutcome};
pub use vector_sync::VectorSync;
