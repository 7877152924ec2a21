//! Storage node: persists redo records, computes SCL, gossips with peers, serves GetPage@LSN.
