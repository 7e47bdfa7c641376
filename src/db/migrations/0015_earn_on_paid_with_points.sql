-- SPEC §4: the part of an order paid with points, store credit or a reward earns nothing, unless
-- the program says it does. A purchase's facts keep the amount it earned on (order.total), so its
-- returns follow the setting as it was, whatever the program says later.
alter table programs add column earn_on_paid_with_points boolean not null default false;
