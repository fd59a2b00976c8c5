//! Host bindings generated from the WIT contract in `guest-sdk/wit/`.

wasmtime::component::bindgen!({
    path: "../guest-sdk/wit-0.1",
    world: "detection",
    imports: { default: trappable },
    with: {
        "oktawatch:detection/event.okta-event": crate::runtime::host::EventRef,
    },
});
