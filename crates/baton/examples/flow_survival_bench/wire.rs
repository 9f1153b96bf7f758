//! What client and apps say: the client sends a connection's counter as 8 bytes (big
//! endian); the app answers with the same 8 bytes and its own number.

/// The service's port, on the VIP and on the apps.
pub(crate) const PORT: u16 = 7000;
pub(crate) const REQUEST_LEN: usize = 8;
pub(crate) const ANSWER_LEN: usize = 9;

/// The answer of app `app` to `request`.
pub(crate) fn answer(request: [u8; REQUEST_LEN], app: u8) -> [u8; ANSWER_LEN] {
    let mut answer = [0u8; ANSWER_LEN];
    answer[..REQUEST_LEN].copy_from_slice(&request);
    answer[REQUEST_LEN] = app;
    answer
}

/// The counter and the app's number in an answer.
pub(crate) fn parse(answer: [u8; ANSWER_LEN]) -> (u64, u8) {
    let mut counter = [0u8; REQUEST_LEN];
    counter.copy_from_slice(&answer[..REQUEST_LEN]);
    (u64::from_be_bytes(counter), answer[REQUEST_LEN])
}
