fn main() { print!("{}", vnx::receipts::schema::document_text()); }
