"""SQLAlchemy 2 ORM against Borealis, through its default PostgreSQL dialect and driver.

create_all (a SERIAL key, a FOREIGN KEY, a UNIQUE constraint, numeric and timestamptz columns),
add/query/update/delete, a one-to-many relationship over the foreign key, transactions,
savepoints, a unique violation and a foreign-key violation.
Usage: python3 sqlalchemy_driver.py URL. Prints OK and exits 0 on success.
"""

import datetime
import decimal
import sys

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    create_engine,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "sa_authors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    born: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    seen: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    books: Mapped[list["Book"]] = relationship(
        back_populates="author",
        cascade="all, delete-orphan",
        order_by="Book.id",
    )


class Book(Base):
    __tablename__ = "sa_books"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("sa_authors.id"))
    title: Mapped[str] = mapped_column(Text)
    copies: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[float] = mapped_column(Float)
    cost: Mapped[decimal.Decimal | None] = mapped_column(Numeric(10, 2))
    in_print: Mapped[bool] = mapped_column(Boolean, default=True)
    author: Mapped[Author] = relationship(back_populates="books")


def main(url):
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)

    born = datetime.datetime(1903, 6, 25, 8, 30)
    seen = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    with Session(engine) as s:
        orwell = Author(name="Orwell", born=born, seen=seen)
        orwell.books = [
            Book(id=10, title="Animal Farm", copies=2**33, price=9.5, cost=decimal.Decimal("3.10")),
            Book(id=11, title="1984", copies=7, price=12.25, in_print=False),
        ]
        s.add_all([orwell, Author(name="Woolf")])
        s.commit()
        # SERIAL handed out the keys, in order.
        assert (orwell.id, s.scalars(select(Author.id).where(Author.name == "Woolf")).one()) == (1, 2)

    with Session(engine) as s:
        a = s.scalars(select(Author).where(Author.name == "Orwell")).one()
        assert a.born == born, a.born
        assert a.seen == seen, a.seen
        assert a.books[0].cost == decimal.Decimal("3.10"), a.books[0].cost
        assert [b.title for b in a.books] == ["Animal Farm", "1984"], a.books
        assert a.books[0].copies == 2**33 and a.books[0].in_print is True
        b = s.get(Book, 11)
        assert b.author.name == "Orwell" and b.in_print is False and b.price == 12.25
        rows = s.execute(
            select(Author.name, func.count(Book.id))
            .join(Book, Book.author_id == Author.id)
            .group_by(Author.name)
        ).all()
        assert rows == [("Orwell", 2)], rows

        # Update through the unit of work, then a rolled-back change.
        b.price = 13.0
        s.commit()
        assert s.get(Book, 11).price == 13.0
        s.get(Book, 10).title = "changed"
        s.rollback()
        assert s.get(Book, 10).title == "Animal Farm"

        # Nested transaction (SAVEPOINT) rolled back, outer committed.
        with s.begin_nested():
            s.add(Book(id=12, title="Homage to Catalonia", copies=1, price=8.0, author_id=1))
        sp = s.begin_nested()
        s.add(Book(id=13, title="discarded", copies=1, price=1.0, author_id=1))
        s.flush()
        sp.rollback()
        s.commit()
        assert s.scalars(select(Book.id).order_by(Book.id)).all() == [10, 11, 12]

    # A unique violation and a foreign-key violation are IntegrityErrors with their SQLSTATEs.
    for bad, state in [
        (Author(name="Woolf"), "23505"),
        (Book(id=20, title="orphan", copies=1, price=1.0, author_id=99), "23503"),
    ]:
        with Session(engine) as s:
            s.add(bad)
            try:
                s.commit()
            except IntegrityError as e:
                assert e.orig.sqlstate == state, (e.orig.sqlstate, state)
                s.rollback()
            else:
                raise AssertionError(f"{bad} accepted")

    # Delete with the relationship's cascade.
    with Session(engine) as s, s.begin():
        s.delete(s.get(Author, 1))
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Book)) == 0
        assert s.scalars(select(Author.name)).all() == ["Woolf"]

    Base.metadata.drop_all(engine)
    engine.dispose()
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
